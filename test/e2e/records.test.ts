import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import type { CallRecord } from '../../src/records/call-record.ts';
import { callRecord } from '../support/call-fixtures.ts';
import { type CallCenterUnderTest, startCallCenter } from './call-center-harness.ts';

let center: CallCenterUnderTest | undefined;
afterEach(async () => {
  await center?.close();
  center = undefined;
});

const at = (iso: string) => new Date(iso);
const ended = (arrived: string, over: Partial<CallRecord>): CallRecord => {
  const arrivedAt = at(arrived);
  return callRecord({
    arrivedAt,
    endedAt: new Date(arrivedAt.getTime() + 60_000),
    disposition: 'abandoned',
    endedBy: 'caller',
    ...over,
  });
};
const answeredAfter = (arrived: string, waitS: number, talkS: number, over: Partial<CallRecord> = {}) => {
  const arrivedAt = at(arrived);
  return ended(arrived, {
    connectedAt: new Date(arrivedAt.getTime() + waitS * 1000),
    disposition: 'connected',
    takerId: 'taker1',
    waitMs: waitS * 1000,
    talkMs: talkS * 1000,
    ...over,
  });
};

/** Known figures: six calls on 2026-11-20 (two hours, WIB) and one the next day. */
const RECORDS = [
  answeredAfter('2026-11-20T01:05:00Z', 5, 120), // 08:05 WIB, within 15 s
  answeredAfter('2026-11-20T01:20:00Z', 18, 60, { trunk: 'indosat' }), // within 20 s, not 15
  answeredAfter('2026-11-20T01:40:00Z', 40, 30), // late
  ended('2026-11-20T01:50:00Z', {}), // abandoned
  ended('2026-11-20T02:10:00Z', {
    disposition: 'released',
    endedBy: 'system',
    screening: { decision: 'warn-and-release', score: 8, reasons: ['pranks today: warned and released'] },
  }),
  answeredAfter('2026-11-20T02:30:00Z', 10, 20, {
    callerNumber: '+6285700000001',
    callerIdRaw: '=HYPERLINK("x")',
  }),
  answeredAfter('2026-11-21T03:00:00Z', 3, 45, { trunk: 'indosat' }),
];

async function seed(c: CallCenterUnderTest): Promise<void> {
  await c.calls.applyUpdates(RECORDS.map((record) => ({ record: { ...record, version: 9 }, events: [] })));
  await c.database.db
    .updateTable('calls')
    .set({ verdict: 'prank' })
    .where('id', '=', RECORDS[2]!.id)
    .execute();
}

const get = (c: CallCenterUnderTest, url: string) => c.service.app.inject({ method: 'GET', url });

describe('call records for supervisors', () => {
  it('searches by range and fields, newest first, a page at a time with a cursor', async () => {
    center = await startCallCenter({ takers: 1 });
    await seed(center);
    const range = 'from=2026-11-20T00:00:00Z&to=2026-11-22T00:00:00Z';
    const first = await get(center, `/calls?${range}&limit=4`);
    expect(first.statusCode, first.body).toBe(200);
    const page1 = first.json();
    expect(page1.items.map((row: { arrivedAt: string }) => row.arrivedAt)).toEqual([
      '2026-11-21T03:00:00.000Z',
      '2026-11-20T02:30:00.000Z',
      '2026-11-20T02:10:00.000Z',
      '2026-11-20T01:50:00.000Z',
    ]);
    const page2 = (await get(center, `/calls?${range}&limit=4&cursor=${page1.next}`)).json();
    expect(page2.items).toHaveLength(3);
    expect(page2.next).toBeNull();

    const byNumber = (await get(center, `/calls?${range}&number=085700000001`)).json();
    expect(byNumber.items.map((r: { id: string }) => r.id)).toEqual([RECORDS[5]!.id]);
    expect((await get(center, `/calls?${range}&disposition=released`)).json().items).toHaveLength(1);
    expect((await get(center, `/calls?${range}&decision=warn-and-release`)).json().items).toHaveLength(1);
    expect((await get(center, `/calls?${range}&verdict=prank&trunk=telkomsel`)).json().items).toHaveLength(1);
    expect((await get(center, `/calls?${range}&takerId=taker1&trunk=indosat`)).json().items).toHaveLength(2);

    const timeline = await get(center, `/calls/${RECORDS[0]!.id}`);
    expect(timeline.json()).toMatchObject({
      record: { id: RECORDS[0]!.id, disposition: 'connected' },
      events: [],
    });
    expect((await get(center, '/calls/00000000-0000-4000-8000-000000000000')).statusCode).toBe(404);

    const backwards = await get(center, '/calls?from=2026-11-22T00:00:00Z&to=2026-11-20T00:00:00Z');
    expect(backwards.statusCode).toBe(400);
    expect(backwards.json().detail).toMatch(/^querystring\.to: /);
    const badCursor = await get(center, `/calls?${range}&cursor=bm9wZQ`);
    expect(badCursor.json().detail).toMatch(/^querystring\.cursor: /);
    const badNumber = await get(center, `/calls?${range}&number=hello`);
    expect(badNumber.json().detail).toMatch(/^querystring\.number: /);

    // A caller's history (the last 30 days): their calls and the verdicts given.
    const recentCall = answeredAfter(new Date(Date.now() - 3600_000).toISOString(), 4, 30, {
      callerNumber: '+6281300000009',
    });
    await center.calls.applyUpdates([{ record: { ...recentCall, version: 3 }, events: [] }]);
    await center.database.db
      .updateTable('calls')
      .set({ verdict: 'genuine' })
      .where('id', '=', recentCall.id)
      .execute();
    const history = (await get(center, '/callers/081300000009/history')).json();
    expect(history).toMatchObject({ number: '+6281300000009', verdicts: { genuine: 1 } });
    expect(history.calls.map((c: { id: string }) => c.id)).toEqual([recentCall.id]);
    expect((await get(center, '/callers/hello/history')).json().detail).toMatch(/^params\.number: /);
  });

  it('reports by hour, day and trunk with the figures of the records', async () => {
    center = await startCallCenter({ takers: 1 });
    await seed(center);
    const range = 'from=2026-11-20T00:00:00Z&to=2026-11-22T00:00:00Z';
    const byDay = (await get(center, `/reports/calls?${range}&by=day&timeZone=Asia/Jakarta`)).json();
    expect(byDay.rows).toEqual([
      {
        group: '2026-11-20T00:00:00',
        offered: 6,
        answered: 4,
        abandoned: 1,
        releasedByScreening: 1,
        prankShare: 1 / 6,
        silentShare: 0,
        averageAnswerSeconds: 18.3,
        p90AnswerSeconds: 33.4,
        serviceLevel15: 2 / 6,
        serviceLevel20: 3 / 6,
        talkSeconds: 230,
        // No taker state history in this test: nobody logged in.
        staffedSeconds: 0,
        occupancy: null,
      },
      expect.objectContaining({ group: '2026-11-21T00:00:00', offered: 1, answered: 1, serviceLevel15: 1 }),
    ]);
    const byHour = (await get(center, `/reports/calls?${range}&by=hour`)).json();
    expect(byHour.rows.map((r: { group: string; offered: number }) => [r.group, r.offered])).toEqual([
      ['2026-11-20T08:00:00', 4],
      ['2026-11-20T09:00:00', 2],
      ['2026-11-21T10:00:00', 1],
    ]);
    const byTrunk = (await get(center, `/reports/calls?${range}&by=trunk`)).json();
    expect(byTrunk.rows.map((r: { group: string; offered: number }) => [r.group, r.offered])).toEqual([
      ['indosat', 2],
      ['telkomsel', 5],
    ]);
    const badZone = await get(center, `/reports/calls?${range}&timeZone=Mars/Olympus`);
    expect(badZone.statusCode).toBe(400);
    expect(badZone.json().detail).toMatch(/^querystring\.timeZone: /);
  });

  it("reports call takers' occupancy from their state transitions, split at the periods' boundaries", async () => {
    center = await startCallCenter({ takers: 1 });
    await seed(center);
    // Known figures (WIB = UTC+7). taker1 from 08:00 to 10:00 WIB: in the first hour 30 min ready,
    // 15 min on one call (10 s ringing, 9 min 50 s talking, 5 min wrap-up), 15 min ready again;
    // in the second 30 min ready, 15 min on break, 15 min ready, then logged out.
    // taker2 was logged in before the range began and logged out at 07:30 WIB (a period without calls).
    // taker3 logged in at 06:00 WIB on the 22nd and is still in: counted up to the range's end.
    const transitions: [string, string, string][] = [
      ['taker2', 'available', '2026-11-19T23:00:00Z'],
      ['taker2', 'offline', '2026-11-20T00:30:00Z'],
      ['taker1', 'available', '2026-11-20T01:00:00Z'],
      ['taker1', 'reserved', '2026-11-20T01:30:00Z'],
      ['taker1', 'on-call', '2026-11-20T01:30:10Z'],
      ['taker1', 'wrap-up', '2026-11-20T01:40:00Z'],
      ['taker1', 'available', '2026-11-20T01:45:00Z'],
      ['taker1', 'break', '2026-11-20T02:30:00Z'],
      ['taker1', 'available', '2026-11-20T02:45:00Z'],
      ['taker1', 'offline', '2026-11-20T03:00:00Z'],
      ['taker3', 'available', '2026-11-21T23:00:00Z'],
    ];
    await center.database.db
      .insertInto('taker_events')
      .values(
        transitions.map(([takerId, state, iso], i) => ({
          stream_id: `${Date.parse(iso)}-${i}`,
          taker_id: takerId,
          state,
          previous_state: null,
          reason: null,
          call_id: null,
          at: new Date(iso),
        })),
      )
      .execute();
    const range = 'from=2026-11-20T00:00:00Z&to=2026-11-22T00:00:00Z';
    const byHour = (await get(center, `/reports/calls?${range}&by=hour`)).json();
    type Row = { group: string; offered: number; staffedSeconds: number | null; occupancy: number | null };
    const occupancy = byHour.rows.map((r: Row) => [r.group, r.offered, r.staffedSeconds, r.occupancy]);
    expect(occupancy).toEqual([
      ['2026-11-20T07:00:00', 0, 1800, 0],
      ['2026-11-20T08:00:00', 4, 3600, 900 / 3600],
      ['2026-11-20T09:00:00', 2, 3600, 0],
      ['2026-11-21T10:00:00', 1, 0, null],
      ['2026-11-22T06:00:00', 0, 3600, 0],
    ]);
    const byDay = (await get(center, `/reports/calls?${range}&by=day`)).json();
    expect(byDay.rows).toEqual([
      expect.objectContaining({ group: '2026-11-20T00:00:00', staffedSeconds: 9000, occupancy: 900 / 8100 }),
      expect.objectContaining({ group: '2026-11-21T00:00:00', staffedSeconds: 0, occupancy: null }),
      expect.objectContaining({ group: '2026-11-22T00:00:00', staffedSeconds: 3600, occupancy: 0 }),
    ]);
    // Occupancy is the floor's, not a trunk's.
    const byTrunk = (await get(center, `/reports/calls?${range}&by=trunk`)).json();
    expect(byTrunk.rows[0]).toMatchObject({ staffedSeconds: null, occupancy: null });
  });

  it('exports 100,000 records as CSV, streamed with flat memory, formulas in caller IDs neutralized', async () => {
    center = await startCallCenter({ takers: 1 });
    await seed(center);
    // 100,000 more calls in one statement, one every 30 s from 2026-01-01.
    await sql`
      insert into calls (id, version, caller_channel_id, trunk, caller_id_raw, caller_number, caller_id_kind,
                         priority, arrived_at, disposition, taker_id, wait_ms, talk_ms)
      select gen_random_uuid(), 1, 'bulk-' || n, 'telkomsel', '08123' || lpad(n::text, 7, '0'),
             '+628123' || lpad(n::text, 7, '0'), 'e164', 1,
             timestamptz '2026-01-01T00:00:00Z' + n * interval '30 seconds', 'connected', null, 4000, 60000
      from generate_series(1, 100000) as n`.execute(center.database.db);

    const api = await center.service.app.listen({ host: '127.0.0.1', port: 0 });
    // What stays alive, not garbage waiting for a collection: measure after collecting.
    v8.setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const retained = () => {
      gc();
      return process.memoryUsage().heapUsed;
    };
    const before = retained();
    let peak = before;
    let chunks = 0;
    const response = await fetch(
      `${api}/exports/calls.csv?from=2026-01-01T00:00:00Z&to=2026-12-01T00:00:00Z`,
      {
        headers: { authorization: `Bearer ${center.adminKey}` },
      },
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/csv/);
    let lines = 0;
    let bytes = 0;
    let header = '';
    let tail = '';
    let hyperlink = '';
    const decoder = new TextDecoder();
    for await (const chunk of response.body!) {
      bytes += chunk.byteLength;
      const text = tail + decoder.decode(chunk, { stream: true });
      const parts = text.split('\r\n');
      tail = parts.pop() ?? '';
      for (const line of parts) {
        if (lines === 0) header = line;
        if (line.includes('HYPERLINK')) hyperlink = line;
        lines += 1;
      }
      chunks += 1;
      if (chunks % 25 === 0) peak = Math.max(peak, retained());
    }
    expect(header.split(',')).toEqual(
      expect.arrayContaining(['id', 'arrived_at', 'caller_number', 'disposition']),
    );
    expect(lines).toBe(1 + 100_000 + RECORDS.length);
    // The CSV is about 16 MB; the server held one page of it at a time (heap growth well under it).
    expect(bytes).toBeGreaterThan(10_000_000);
    expect(peak - before).toBeLessThan(bytes / 4);
    // A caller ID that looks like a formula is quoted so a spreadsheet shows it as text.
    expect(hyperlink).toContain(`"'=HYPERLINK(""x"")"`);
  });
});
