import { randomUUID } from 'node:crypto';
import type { CallEvent, CallRecord, CallRecordUpdate } from '../../src/records/call-record.ts';

const T0 = Date.parse('2026-11-23T08:00:00.000Z');

/** A plausible call record at version 1 (just arrived); `overrides` wins. */
export function callRecord(overrides: Partial<CallRecord> = {}): CallRecord {
  return {
    id: randomUUID(),
    version: 1,
    callerChannelId: `channel-${randomUUID()}`,
    trunk: 'telkomsel',
    callerIdRaw: '+6281234567890',
    callerNumber: '+6281234567890',
    callerIdKind: 'e164',
    priority: 1,
    arrivedAt: new Date(T0),
    answeredAt: null,
    queuedAt: null,
    offeredAt: null,
    connectedAt: null,
    endedAt: null,
    disposition: null,
    endedBy: null,
    takerId: null,
    waitMs: null,
    talkMs: null,
    screening: null,
    ...overrides,
  };
}

export function callEvent(callId: string, seq: number, overrides: Partial<CallEvent> = {}): CallEvent {
  return {
    callId,
    seq,
    at: new Date(T0 + seq * 1_000),
    type: `step-${seq}`,
    state: `state-${seq}`,
    detail: { seq },
    ...overrides,
  };
}

/**
 * The successive updates of one call's life: version v carries events 2v-1 and 2v, and the
 * last version ends the call. Every write the call flow would make, in order.
 */
export function callLifecycle(versions: number, base: Partial<CallRecord> = {}): CallRecordUpdate[] {
  const first = callRecord(base);
  return Array.from({ length: versions }, (_, i) => {
    const version = i + 1;
    const last = version === versions;
    const record: CallRecord = {
      ...first,
      version,
      answeredAt: version >= 2 ? new Date(first.arrivedAt.getTime() + 2_000) : null,
      queuedAt: version >= 3 ? new Date(first.arrivedAt.getTime() + 5_000) : null,
      endedAt: last ? new Date(first.arrivedAt.getTime() + 60_000) : null,
      disposition: last ? 'abandoned' : null,
      endedBy: last ? 'caller' : null,
      waitMs: last ? 60_000 : null,
    };
    return { record, events: [callEvent(first.id, 2 * version - 1), callEvent(first.id, 2 * version)] };
  });
}
