/**
 * A call taker's state. Only `available` takers are offered calls; `reserved` means a call is
 * ringing on their phone. (Wrap-up and breaks arrive with the distribution issue.)
 */
export type TakerState = 'offline' | 'available' | 'reserved' | 'on-call';

const TRANSITIONS: Record<TakerState, readonly TakerState[]> = {
  offline: ['available'],
  available: ['reserved', 'offline'],
  reserved: ['on-call', 'available', 'offline'],
  'on-call': ['available', 'offline'],
};

export const TAKER_STATES = Object.keys(TRANSITIONS) as TakerState[];

export function canTransition(from: TakerState, to: TakerState): boolean {
  return from === to || TRANSITIONS[from].includes(to);
}

export class IllegalTakerTransition extends Error {
  override readonly name = 'IllegalTakerTransition';
  readonly takerId: string;
  readonly from: TakerState;
  readonly to: TakerState;

  constructor(takerId: string, from: TakerState, to: TakerState) {
    super(`call taker ${takerId} cannot go from ${from} to ${to}`);
    this.takerId = takerId;
    this.from = from;
    this.to = to;
  }
}
