/**
 * A call taker's state. Only `available` takers are offered calls; `reserved` means a call is
 * ringing on their phone; `wrap-up` is the time after a call to finish its paperwork, ending by
 * itself; `break` carries a reason (`missed` after ring-no-answer, `unreachable` when the
 * softphone vanished, or what the taker gave).
 */
export type TakerState = 'offline' | 'available' | 'reserved' | 'on-call' | 'wrap-up' | 'break';

const TRANSITIONS: Record<TakerState, readonly TakerState[]> = {
  offline: ['available', 'break'],
  available: ['reserved', 'break', 'offline'],
  reserved: ['on-call', 'available', 'break', 'offline'],
  /** `break` (unreachable): the phone answered, then failed before the caller was put through. */
  'on-call': ['wrap-up', 'available', 'break', 'offline'],
  'wrap-up': ['available', 'break', 'offline'],
  break: ['available', 'offline'],
};

export const TAKER_STATES = Object.keys(TRANSITIONS) as TakerState[];

/** States a taker (or a supervisor for them) may ask for from the desk. */
export const DESK_STATES = ['available', 'break', 'offline'] as const;
export type DeskState = (typeof DESK_STATES)[number];

/** Why a taker is on break when siaga112, not the taker, put them there. */
export type SystemBreakReason = 'missed' | 'unreachable';

export function canTransition(from: TakerState, to: TakerState): boolean {
  return from === to || TRANSITIONS[from].includes(to);
}

export function isTakerState(value: string): value is TakerState {
  return (TAKER_STATES as string[]).includes(value);
}
