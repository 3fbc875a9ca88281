/**
 * A call taker's state history: every transition is made by a Lua script in Redis, and that same
 * script appends it to one Redis stream, so the log cannot disagree with the state. The drain
 * (`taker-event-drain.ts`) copies the stream into `taker_events` in Postgres.
 *
 * The stream contract, written by the Lua scripts with `XADD <key> * field value ...`:
 *
 * | field      | value                                                                         |
 * | ---------- | ----------------------------------------------------------------------------- |
 * | `taker`    | the call taker's id                                                           |
 * | `state`    | the state entered: `offline`, `available`, `reserved`, `on-call`, `wrap-up`, `break` |
 * | `previous` | the state left, or `''` when the taker was unknown                            |
 * | `reason`   | `''` or why, e.g. `missed`, `lunch`, `unreachable`, `login`, `logout`, `wrap-up-ended` |
 * | `call`     | `''` or the call's UUID                                                        |
 * | `at`       | epoch milliseconds as a decimal string                                        |
 */

/** The states a call taker can be in, as the Lua scripts write them. */
export const TAKER_EVENT_STATES = [
  'offline',
  'available',
  'reserved',
  'on-call',
  'wrap-up',
  'break',
] as const;
export type TakerEventState = (typeof TAKER_EVENT_STATES)[number];

export function isTakerEventState(value: string): value is TakerEventState {
  return (TAKER_EVENT_STATES as readonly string[]).includes(value);
}

/** The stream the Lua scripts append to: `${prefix}:taker-events`. */
export function takerEventStreamKey(prefix: string): string {
  return `${prefix}:taker-events`;
}

/** Where entries that cannot be stored are kept for a person to look at. */
export function takerEventDeadLetterKey(prefix: string): string {
  return `${prefix}:taker-events:dead`;
}

/** One transition, as stored in `taker_events`. */
export interface TakerEvent {
  /** The Redis stream entry id (`<ms>-<seq>`): unique, so a redelivered entry is stored once. */
  streamId: string;
  takerId: string;
  /**
   * Normally a `TakerEventState`; a state this version does not know is kept as written (see
   * `parseTakerEventEntry`). Reports narrow it with `isTakerEventState`.
   */
  state: string;
  /** Null when the taker was unknown before this transition. */
  previousState: string | null;
  reason: string | null;
  callId: string | null;
  at: Date;
}

/** What the drain does with one stream entry. */
export type ParsedTakerEventEntry =
  /** Store it; `problems` lists fields that were repaired (worth a log line, not a loss). */
  | { readonly kind: 'event'; readonly event: TakerEvent; readonly problems: readonly string[] }
  /** Cannot be stored: acknowledge it and keep it in the dead-letter stream. */
  | { readonly kind: 'dead'; readonly streamId: string; readonly problem: string }
  /** Deleted from the stream while still pending (already handled elsewhere): only acknowledge. */
  | { readonly kind: 'gone'; readonly streamId: string };

const STREAM_ID = /^(\d{1,20})-(\d{1,20})$/;
const EPOCH_MS = /^\d{1,16}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** ECMAScript's largest Date; far inside Postgres' timestamptz range. */
const MAX_EPOCH_MS = 8.64e15;
/**
 * `taker_id` is indexed, and a btree entry over ~2.7 kB makes Postgres refuse the row with an
 * error that is not about data (54000): such an id must be caught here, not retried forever.
 */
export const MAX_TAKER_ID_LENGTH = 256;

export function isStreamId(value: string): boolean {
  return STREAM_ID.test(value);
}

/** Milliseconds from a stream id (`<ms>-<seq>`): when Redis appended the entry. */
function streamIdTime(streamId: string): number | undefined {
  const match = STREAM_ID.exec(streamId);
  if (match === null) return undefined;
  const ms = Number(match[1]);
  return ms <= MAX_EPOCH_MS ? ms : undefined;
}

/** The first value of each field (`XADD` allows a field twice; the scripts never write one twice). */
function fieldMap(fields: readonly string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i]!;
    if (!map.has(name)) map.set(name, fields[i + 1]!);
  }
  return map;
}

/**
 * Reads one stream entry defensively, never throwing: a bad entry must neither stop the drain
 * nor be retried forever. The policy, field by field:
 *
 * - no `taker` (or an absurdly long one), or no `state`: the transition cannot be attributed or
 *   has no meaning, so the entry is dead (acknowledged, kept in the dead-letter stream).
 * - a `state` or `previous` this version does not know is stored as written. The Lua script has
 *   already made that transition in Redis, and the history must not disagree with the state;
 *   a newer script (a rolling deploy) may write a state before every drain knows it, and
 *   dropping it would leave a hole in occupancy reports. The column has no CHECK for this reason.
 * - a `call` that is not a UUID becomes null: the `uuid` column would refuse it forever, and the
 *   transition is worth more than the link to the call.
 * - a missing or unreadable `at` falls back to the stream id's time: Redis appended the entry in
 *   the same script run, so it is the same instant to within a millisecond.
 * - `''` means "none" for `previous`, `reason` and `call`, as the contract says.
 */
export function parseTakerEventEntry(
  streamId: string,
  fields: readonly string[] | null,
): ParsedTakerEventEntry {
  if (fields === null) return { kind: 'gone', streamId };
  if (!isStreamId(streamId)) return { kind: 'dead', streamId, problem: 'stream id is not <ms>-<seq>' };
  const map = fieldMap(fields);
  const problems: string[] = [];

  const takerId = map.get('taker') ?? '';
  if (takerId === '') return { kind: 'dead', streamId, problem: 'no taker' };
  if (takerId.length > MAX_TAKER_ID_LENGTH)
    return { kind: 'dead', streamId, problem: `taker id longer than ${MAX_TAKER_ID_LENGTH} characters` };

  const state = map.get('state') ?? '';
  if (state === '') return { kind: 'dead', streamId, problem: 'no state' };
  if (!isTakerEventState(state)) problems.push(`unknown state ${JSON.stringify(state)} stored as written`);

  const previous = map.get('previous') ?? '';
  if (!map.has('previous')) problems.push('no previous field; stored as unknown');
  else if (previous !== '' && !isTakerEventState(previous))
    problems.push(`unknown previous state ${JSON.stringify(previous)} stored as written`);

  const call = map.get('call') ?? '';
  let callId: string | null = null;
  if (call !== '') {
    if (UUID.test(call)) callId = call.toLowerCase();
    else problems.push(`call ${JSON.stringify(call.slice(0, 80))} is not a UUID; stored as none`);
  }

  const rawAt = map.get('at') ?? '';
  let atMs = EPOCH_MS.test(rawAt) ? Number(rawAt) : Number.NaN;
  if (!(atMs <= MAX_EPOCH_MS)) {
    // Undefined only for an id past the year 275760, which Redis cannot have written.
    atMs = streamIdTime(streamId) ?? 0;
    problems.push(
      `at ${JSON.stringify(rawAt.slice(0, 80))} is not epoch milliseconds; used the stream id's time`,
    );
  }

  const reason = map.get('reason') ?? '';
  return {
    kind: 'event',
    event: {
      streamId,
      takerId,
      state,
      previousState: previous === '' ? null : previous,
      reason: reason === '' ? null : reason,
      callId,
      at: new Date(atMs),
    },
    problems,
  };
}
