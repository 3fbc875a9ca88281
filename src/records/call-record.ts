/**
 * What siaga112 writes about a call: one `calls` row (a snapshot that only moves forward) and
 * one `call_events` row per thing that happened. Both are keyed so a write can be retried any
 * number of times and land once.
 */

/** How a call ended. */
export type Disposition =
  | 'connected' // a call taker answered (whatever happened after)
  | 'abandoned' // the caller hung up before a person answered
  | 'released' // screening played the misuse warning and hung up
  | 'silent' // nobody spoke or pressed a key within the silence bounds
  | 'overflowed' // sent to the overflow target
  | 'failed' // siaga112 or Asterisk could not handle it (the reason is in the events)
  | 'lost'; // the channel vanished (Asterisk restarted) before the call ended normally

/** What a call taker judged an answered call to be. */
export type Verdict = 'genuine' | 'prank' | 'silent' | 'misdial' | 'info';
export const VERDICTS: readonly Verdict[] = ['genuine', 'prank', 'silent', 'misdial', 'info'];

/** What the emergency was about, as the call taker files it with the verdict. */
export type IncidentCategory = 'medical' | 'fire' | 'police' | 'disaster' | 'traffic' | 'rescue' | 'other';
export const INCIDENT_CATEGORIES: readonly IncidentCategory[] = [
  'medical',
  'fire',
  'police',
  'disaster',
  'traffic',
  'rescue',
  'other',
];

/**
 * What screening decided for a call: `connect` (normal), `connect-low` (lower priority),
 * `challenge` (a key press proves a person is there first), `warn-and-release` (a recorded
 * warning about misuse of 112, then hang up).
 */
export type ScreeningDecision = 'connect' | 'connect-low' | 'challenge' | 'warn-and-release';

/** Screening's decision on the call, with its score and reasons a person can read. */
export interface ScreeningOutcome {
  decision: ScreeningDecision;
  score: number;
  reasons: string[];
}

/** What kind of caller ID the trunk delivered; only `e164` is a number we can trust to call back. */
export type CallerIdKind = 'e164' | 'anonymous' | 'empty' | 'invalid';

export interface CallRecord {
  /** Our id for the call (UUID), not Asterisk's channel id. */
  id: string;
  /** Increases with every update; a stale update never overwrites a newer one. */
  version: number;
  callerChannelId: string;
  trunk: string | null;
  /** Caller ID exactly as delivered (may be junk, stored as text, never interpreted). */
  callerIdRaw: string;
  /** E.164 (`+628…`) when the raw value is a usable number, otherwise null. */
  callerNumber: string | null;
  callerIdKind: CallerIdKind;
  /** Lower is more urgent (0 urgent, 1 normal, 2 low). */
  priority: number;
  arrivedAt: Date;
  answeredAt: Date | null;
  queuedAt: Date | null;
  offeredAt: Date | null;
  connectedAt: Date | null;
  endedAt: Date | null;
  disposition: Disposition | null;
  /** Who hung up first, once known. */
  endedBy: 'caller' | 'taker' | 'system' | null;
  takerId: string | null;
  /** Arrival to a person answering (or to the end, when nobody did). */
  waitMs: number | null;
  /** Connected to ended. */
  talkMs: number | null;
  /** Null until screened (or when screening was skipped: it fails open). */
  screening: ScreeningOutcome | null;
}

export interface CallEvent {
  callId: string;
  /** 1, 2, 3… per call; (callId, seq) is unique. */
  seq: number;
  at: Date;
  /** What happened, e.g. `arrived`, `answered`, `queued`, `offered`, `offer-failed`, `connected`, `ended`. */
  type: string;
  /** The call's state after the event. */
  state: string;
  detail: Record<string, unknown>;
}

/** One durable write: the call's latest snapshot and the events since the previous write. */
export interface CallRecordUpdate {
  record: CallRecord;
  events: CallEvent[];
}

/**
 * Events about a call whose record is final (its callback's trace): stored like any other
 * events, the `calls` row left as it is. `version` is a reserved record version, so each append
 * is one job (`<call id>-e<version>`) and a retried append lands once.
 */
export interface CallEventsAppend {
  callId: string;
  version: number;
  events: CallEvent[];
}

/** Where the call flow hands its records. Resolves once the update is durably queued. */
export interface CallRecordSink {
  write(update: CallRecordUpdate): Promise<void>;
}
