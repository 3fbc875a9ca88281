import type { CallEvent, CallRecord } from '../records/call-record.ts';

const seconds = (ms: number | null) => (ms === null ? '–' : `${(ms / 1000).toFixed(1)} s`);

/** Prints what Postgres holds for each demo call, and how fast a free taker was rung. */
export function printCallTable(
  calls: ReadonlyArray<{ record: CallRecord; events: readonly CallEvent[] }>,
  channelCreatedAt: ReadonlyMap<string, number>,
): void {
  console.log('\ncall records in PostgreSQL:');
  const header = [
    '#',
    'caller ID as delivered',
    'normalized',
    'trunk',
    'disposition',
    'taker',
    'wait',
    'talk',
  ];
  const rows = calls.map(({ record }, i) => [
    String(i + 1),
    JSON.stringify(record.callerIdRaw).slice(0, 28),
    record.callerNumber ?? `(${record.callerIdKind})`,
    record.trunk ?? '–',
    record.disposition ?? '–',
    record.takerId ?? '–',
    seconds(record.waitMs),
    seconds(record.talkMs),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]) => cells.map((cell, c) => cell.padEnd(widths[c]!)).join('  ');
  console.log(`  ${line(header)}`);
  for (const row of rows) console.log(`  ${line(row)}`);

  console.log('\ntimelines (call_events):');
  calls.forEach(({ events }, i) => {
    const steps = events.map((e) =>
      e.type === 'offered' || e.type === 'offer-failed' ? `${e.type}(${String(e.detail.takerId)})` : e.type,
    );
    console.log(`  ${i + 1}: ${steps.join(' → ')}`);
  });

  // Arrival to the first taker phone ringing, for calls that found a taker free at once.
  const toRing: number[] = [];
  for (const { record, events } of calls) {
    const arrived = channelCreatedAt.get(record.callerChannelId);
    const types = events.map((e) => e.type);
    // A taker was free at once: the first offer went out before the greeting ended.
    const offeredAtOnce =
      types.includes('offered') &&
      (!types.includes('greeting-finished') || types.indexOf('offered') < types.indexOf('greeting-finished'));
    const ringing = channelCreatedAt.get(`siaga112-offer-${record.id}-1`);
    if (arrived !== undefined && ringing !== undefined && offeredAtOnce) toRing.push(ringing - arrived);
  }
  if (toRing.length > 0) {
    console.log(
      `\ncaller arrived → free taker's phone ringing: ${toRing.map((ms) => `${ms.toFixed(1)} ms`).join(', ')} (the greeting plays meanwhile)`,
    );
  }
}
