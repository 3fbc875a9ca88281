import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canTransition,
  DESK_STATES,
  TAKER_STATES,
  type TakerState,
} from '../../../src/queues/taker-state.ts';

/** States reachable from `start` by legal moves. */
function reachableFrom(start: TakerState): Set<TakerState> {
  const seen = new Set<TakerState>([start]);
  const todo = [start];
  for (let state = todo.pop(); state; state = todo.pop()) {
    for (const next of TAKER_STATES) {
      if (!seen.has(next) && canTransition(state, next)) {
        seen.add(next);
        todo.push(next);
      }
    }
  }
  return seen;
}

describe('call taker state machine', () => {
  it('reaches every state from a logged-out taker, and every taker can log out again', () => {
    expect([...reachableFrom('offline')].sort()).toEqual([...TAKER_STATES].sort());
    for (const state of TAKER_STATES) expect(reachableFrom(state), state).toContain('offline');
  });

  it('lets the desk ask for any desk state from any state (a busy taker is refused, not stuck)', () => {
    for (const from of TAKER_STATES) for (const to of DESK_STATES) expect(canTransition(from, to)).toBe(true);
  });

  it('along any legal walk, a call is only offered to a free taker, answered when offered, wrapped up after talking', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...TAKER_STATES), { maxLength: 40 }), (moves) => {
        let state: TakerState = 'offline';
        for (const next of moves) {
          if (!canTransition(state, next)) continue;
          if (next !== state) {
            if (next === 'reserved') expect(state).toBe('available');
            if (next === 'on-call') expect(state).toBe('reserved');
            if (next === 'wrap-up') expect(state).toBe('on-call');
          }
          state = next;
        }
      }),
    );
  });
});
