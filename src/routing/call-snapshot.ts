import type { QueuePlace } from '../queues/call-queue.ts';
import type { CallEvent, CallRecord } from '../records/call-record.ts';
import type { CallState } from './call-state.ts';

/** A phone being rung for this call: a call taker's, or the overflow target (takerId null). */
export interface Offer {
  takerId: string | null;
  endpoint: string;
  /** The channel id we gave the originated taker leg. */
  channelId: string;
  attempt: number;
}

/** An agency (police 110, fire 113…) dialed into a connected call. */
export interface AgencyLeg {
  agencyId: string;
  channelId: string;
  state: 'dialing' | 'joined';
  /** Blind hand-over: the taker leaves as soon as the agency answers. */
  handOver: boolean;
}

/**
 * Everything needed to carry on with a live call in another process: kept in Redis at every
 * transition, so a restarted or second instance re-adopts the call instead of abandoning it.
 */
export interface CallSnapshot {
  callId: string;
  state: CallState;
  callerChannelId: string;
  /** Place in the queue (priority level, arrival, skill needed), kept through failed offers. */
  place: QueuePlace;
  offer: Offer | null;
  offerAttempts: number;
  /** The taker leg once connected. */
  takerChannelId: string | null;
  bridgeId: string | null;
  greetingDone: boolean;
  /** Announcements played while waiting. */
  announcements: number;
  /** Epoch ms before which overflow is not tried again (after a failed overflow). */
  overflowRetryAt: number;
  /** Where the call overflowed to, once it has. */
  overflowTarget: string | null;
  /** The key-press challenge under way: screening's, or the silent caller's. */
  challenge: 'screening' | 'silent' | null;
  /** A silent caller: `confirmed` pressed 5 (a person who cannot speak), `unconfirmed` did not. */
  silent: 'confirmed' | 'unconfirmed' | null;
  /** The caller is out of the bridge, hearing music, while the taker does something else. */
  held: boolean;
  /** Agencies dialed into the call (three-way conference, hand-over). */
  agencies: AgencyLeg[];
  /** The taker handed the caller over to an agency and left; the call goes on without them. */
  takerLeft: boolean;
  record: CallRecord;
  /** Events not yet handed to the record writer (seq 0 until the write numbers them). */
  pendingEvents: CallEvent[];
}

const DATE_FIELDS = ['arrivedAt', 'answeredAt', 'queuedAt', 'offeredAt', 'connectedAt', 'endedAt'] as const;

export function serializeSnapshot(snapshot: CallSnapshot): string {
  return JSON.stringify(snapshot);
}

/** Revives dates; returns undefined for anything that is not a snapshot we wrote. */
export function parseSnapshot(text: string): CallSnapshot | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const snapshot = value as CallSnapshot;
  if (typeof snapshot.callId !== 'string' || typeof snapshot.callerChannelId !== 'string') return undefined;
  const record = snapshot.record as unknown as Record<string, unknown>;
  for (const field of DATE_FIELDS) {
    const raw = record[field];
    record[field] = typeof raw === 'string' ? new Date(raw) : null;
  }
  snapshot.pendingEvents = snapshot.pendingEvents.map((event) => ({ ...event, at: new Date(event.at) }));
  // Snapshots written before the desk's call controls existed.
  snapshot.held ??= false;
  snapshot.agencies ??= [];
  snapshot.takerLeft ??= false;
  return snapshot;
}
