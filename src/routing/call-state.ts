/**
 * A 112 call's life in siaga112. Answering and the greeting are not states: they run alongside
 * `queued`, so a clean caller is offered to a taker at once while the greeting plays.
 */
export type CallState =
  | 'queued'
  | 'challenging'
  | 'releasing'
  | 'offered'
  | 'overflowing'
  | 'connected'
  | 'ended';

const TRANSITIONS: Record<CallState, readonly CallState[]> = {
  /** Screening found the caller suspect, before the call entered the queue. */
  queued: ['challenging', 'releasing', 'offered', 'overflowing', 'ended'],
  /** "Press 5 twice": a key press sends the call to the queue; no press, to the queue at low priority. */
  challenging: ['queued', 'ended'],
  /** The misuse warning plays, then siaga112 hangs up. */
  releasing: ['ended'],
  offered: ['connected', 'queued', 'ended'],
  /** Ringing the overflow target (another center, through the trunk); back to queued if it fails. */
  overflowing: ['connected', 'queued', 'ended'],
  /** Back to the queue only when the answering phone dropped before the caller was put through. */
  connected: ['ended', 'queued'],
  ended: [],
};

export function canTransition(from: CallState, to: CallState): boolean {
  return TRANSITIONS[from].includes(to);
}

export class IllegalCallTransition extends Error {
  override readonly name = 'IllegalCallTransition';
  readonly callId: string;
  readonly from: CallState;
  readonly to: CallState;

  constructor(callId: string, from: CallState, to: CallState) {
    super(`call ${callId} cannot go from ${from} to ${to}`);
    this.callId = callId;
    this.from = from;
    this.to = to;
  }
}

/** Throws on a move the table does not allow: a bug to see, not a flag to drift. */
export function assertTransition(callId: string, from: CallState, to: CallState): void {
  if (!canTransition(from, to)) throw new IllegalCallTransition(callId, from, to);
}
