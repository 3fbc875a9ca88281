/**
 * Callbacks, decided without I/O: which ended calls become callbacks, what an ended callback leg
 * means, when the next attempt is due, how a number is dialled through its trunk, and the ids of
 * the channels and bridge a callback attempt uses.
 */
import type { CallRecord, ScreeningDecision } from '../records/call-record.ts';

/** Where a callback stands. `scheduled`: waiting for its next attempt, pending again when due. */
export type CallbackStatus =
  | 'pending'
  | 'claimed'
  | 'dialing'
  | 'scheduled'
  | 'reached'
  | 'failed'
  | 'exhausted';
export const CALLBACK_STATUSES: readonly CallbackStatus[] = [
  'pending',
  'claimed',
  'dialing',
  'scheduled',
  'reached',
  'failed',
  'exhausted',
];

/**
 * What dialling the caller gave: `error` is our side or Asterisk's failing (not the caller's
 * line) and is retried like a no-answer.
 */
export type CallbackOutcome = 'reached' | 'no-answer' | 'busy' | 'invalid' | 'error';

/** Screening decisions that mean "suspected prank": such calls never get a callback. */
const PRANK_SUSPICIONS: ReadonlySet<ScreeningDecision> = new Set([
  'challenge',
  'connect-low',
  'warn-and-release',
]);

/**
 * A caller who hung up after the IVR answered but before a person did, or whose call was lost
 * then (Asterisk restarted under it), with a number we can trust to dial, and not screened as a
 * suspected prank (no screening counts as clean).
 */
export function callbackDue(
  record: Pick<CallRecord, 'disposition' | 'answeredAt' | 'callerNumber' | 'screening'>,
): boolean {
  return (
    (record.disposition === 'abandoned' || record.disposition === 'lost') &&
    record.answeredAt !== null &&
    record.callerNumber !== null &&
    !(record.screening !== null && PRANK_SUSPICIONS.has(record.screening.decision))
  );
}

/** Q.850 causes that mean the number itself cannot be reached: no retry helps. */
const INVALID_CAUSES = new Set([
  1, // unallocated (unassigned) number
  3, // no route to destination
  28, // invalid number format (address incomplete)
]);

/**
 * The outcome of a callback leg to the caller from the cause Asterisk gave when it ended.
 * `answered`: the leg had entered Stasis (the caller picked up).
 */
export function outcomeFromCause(cause: number | undefined, answered: boolean): CallbackOutcome {
  return answered ? 'reached' : notReachedFromCause(cause);
}

/** Why a caller's phone that never answered did not: from the cause of its leg's end. */
export function notReachedFromCause(cause: number | undefined): Exclude<CallbackOutcome, 'reached'> {
  if (cause === 17) return 'busy';
  if (cause !== undefined && INVALID_CAUSES.has(cause)) return 'invalid';
  // 19 no answer, 18 no user responding, 16 the far end gave up ringing, 21 rejected, and
  // anything unknown: ringing out is the safe reading, and it is retried.
  return 'no-answer';
}

/** What follows an attempt that did not reach the caller. */
export type AfterAttempt =
  | { status: 'scheduled'; delayMs: number }
  | { status: 'exhausted' }
  | { status: 'failed' };

/**
 * `attempt` (1-based) just ended with `outcome`. The schedule lists the waits before each retry:
 * `[2, 5, 15]` minutes means at most 3 retries (4 attempts), then `exhausted`. An invalid number
 * is `failed` at once.
 */
export function afterAttempt(
  attempt: number,
  outcome: Exclude<CallbackOutcome, 'reached'>,
  retryDelaysMs: readonly number[],
): AfterAttempt {
  if (outcome === 'invalid') return { status: 'failed' };
  const delayMs = retryDelaysMs[attempt - 1];
  return delayMs === undefined ? { status: 'exhausted' } : { status: 'scheduled', delayMs };
}

/** `CALLBACK_RETRY_MINUTES` style: "2,5,15" (decimals allowed) → waits in ms; undefined if malformed. */
export function parseRetryMinutes(raw: string): number[] | undefined {
  const value = raw.trim();
  if (value === 'none') return [];
  const parts = value.split(',').map((part) => part.trim());
  if (parts.length === 0 || parts.length > 20) return undefined;
  const delays: number[] = [];
  for (const part of parts) {
    if (!/^\d+(\.\d+)?$/.test(part)) return undefined;
    const minutes = Number(part);
    if (minutes <= 0 || minutes > 7 * 24 * 60) return undefined;
    delays.push(Math.round(minutes * 60_000));
  }
  return delays;
}

/**
 * The caller's number as the trunk dials it: Indonesian E.164 `+62812…` becomes `0812…`; any
 * other country keeps the international form with `00`. Null for anything not E.164.
 */
export function dialableNumber(e164: string): string | null {
  if (!/^\+[1-9]\d{5,14}$/.test(e164)) return null;
  return e164.startsWith('+62') ? `0${e164.slice(3)}` : `00${e164.slice(1)}`;
}

/** The dial string through the trunk the call came in on, e.g. `PJSIP/08123456789@telkomsel`. */
export function callerDialString(e164: string, trunk: string): string | null {
  const number = dialableNumber(e164);
  if (!number || !/^[A-Za-z0-9_.-]{1,64}$/.test(trunk)) return null;
  return `PJSIP/${number}@${trunk}`;
}

/** Every channel a callback creates has an id starting with this (see CallCenter channel handlers). */
export const CALLBACK_CHANNEL_PREFIX = 'siaga112-callback-';

export type CallbackLeg = 'taker' | 'caller';

export function callbackChannelId(callbackId: string, attempt: number, leg: CallbackLeg): string {
  return `${CALLBACK_CHANNEL_PREFIX}${callbackId}-${attempt}-${leg}`;
}

export function callbackBridgeId(callbackId: string, attempt: number): string {
  return `${CALLBACK_CHANNEL_PREFIX}${callbackId}-${attempt}-bridge`;
}

/** Reads a callback channel id back; null for anything else. */
export function parseCallbackChannelId(
  channelId: string,
): { callbackId: string; attempt: number; leg: CallbackLeg } | null {
  if (!channelId.startsWith(CALLBACK_CHANNEL_PREFIX)) return null;
  const match = /^([0-9a-f-]{36})-(\d+)-(taker|caller)$/.exec(
    channelId.slice(CALLBACK_CHANNEL_PREFIX.length),
  );
  if (!match) return null;
  return { callbackId: match[1]!, attempt: Number(match[2]), leg: match[3] as CallbackLeg };
}
