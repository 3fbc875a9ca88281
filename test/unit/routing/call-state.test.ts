import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  assertTransition,
  type CallState,
  canTransition,
  IllegalCallTransition,
} from '../../../src/routing/call-state.ts';

const STATES: CallState[] = ['queued', 'offered', 'overflowing', 'connected', 'ended'];

describe('call state machine', () => {
  it('follows the path of a call that reaches a taker, including a failed offer', () => {
    const path: CallState[] = ['queued', 'offered', 'queued', 'offered', 'connected', 'ended'];
    for (let i = 1; i < path.length; i++) expect(canTransition(path[i - 1]!, path[i]!)).toBe(true);
  });

  it('lets a call end from every live state and leave none after ending', () => {
    for (const state of STATES.filter((s) => s !== 'ended')) expect(canTransition(state, 'ended')).toBe(true);
    for (const state of STATES) expect(canTransition('ended', state)).toBe(false);
  });

  it('puts a connected call back in the queue (its answering phone dropped before the bridge)', () => {
    const path: CallState[] = ['queued', 'offered', 'connected', 'queued', 'offered', 'connected', 'ended'];
    for (let i = 1; i < path.length; i++) expect(canTransition(path[i - 1]!, path[i]!)).toBe(true);
  });

  it('never connects a call that was not offered to a taker', () => {
    expect(canTransition('queued', 'connected')).toBe(false);
    expect(() => assertTransition('call-1', 'queued', 'connected')).toThrow(IllegalCallTransition);
  });

  it('overflows only from the queue, and comes back to it when the overflow target fails', () => {
    expect(canTransition('queued', 'overflowing')).toBe(true);
    expect(canTransition('offered', 'overflowing')).toBe(false);
    expect(canTransition('overflowing', 'queued')).toBe(true);
    expect(canTransition('overflowing', 'connected')).toBe(true);
  });

  it('from any sequence of legal moves, connected is only reached through a ringing phone', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...STATES), { maxLength: 30 }), (moves) => {
        let state: CallState = 'queued';
        for (const next of moves) {
          if (!canTransition(state, next)) continue;
          if (next === 'connected') expect(['offered', 'overflowing']).toContain(state);
          state = next;
        }
      }),
    );
  });
});
