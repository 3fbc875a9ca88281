import { describe, expect, it } from 'vitest';
import { ruleChanges } from '../../../src/routing/rule-book.ts';
import { DEFAULT_RULES } from '../../../src/routing/screening.ts';

describe('what a candidate rule set changes', () => {
  it('lists each changed setting by its path, nested ones included, and nothing else', () => {
    const candidate = {
      ...DEFAULT_RULES,
      releaseAfterPranks24h: DEFAULT_RULES.releaseAfterPranks24h + 1,
      weights: { ...DEFAULT_RULES.weights, prank24h: 7 },
      prompts: { warning: ['sound:siaga112/lebaran-warning'] },
    };
    expect(ruleChanges(DEFAULT_RULES, candidate)).toEqual([
      {
        field: 'releaseAfterPranks24h',
        inForce: DEFAULT_RULES.releaseAfterPranks24h,
        candidate: DEFAULT_RULES.releaseAfterPranks24h + 1,
      },
      ...(DEFAULT_RULES.weights.prank24h === 7
        ? []
        : [{ field: 'weights.prank24h', inForce: DEFAULT_RULES.weights.prank24h, candidate: 7 }]),
      { field: 'prompts', inForce: null, candidate: { warning: ['sound:siaga112/lebaran-warning'] } },
    ]);
    expect(ruleChanges(DEFAULT_RULES, structuredClone(DEFAULT_RULES))).toEqual([]);
  });
});
