import { describe, expect, it } from 'vitest';
import { parseTraffic } from '../../../src/replay/traffic.ts';
import { generateDay } from '../../../src/replay/traffic-generator.ts';
import { normalizeCallerId } from '../../../src/routing/caller-id.ts';

describe('a generated day of traffic', () => {
  it('is the same day for the same seed, another for another', () => {
    expect(generateDay({ seed: 7 })).toEqual(generateDay({ seed: 7 }));
    expect(generateDay({ seed: 7 })).not.toEqual(generateDay({ seed: 8 }));
  });

  it('has the profile of the Kendari day: ~120 calls over 24 h, ~40% prank, a few silent, repeat pranksters', () => {
    const calls = generateDay();
    expect(calls).toHaveLength(120);
    expect(calls.map((c) => c.at)).toEqual([...calls.map((c) => c.at)].sort((a, b) => a - b));
    expect(calls.every((c) => c.at >= 0 && c.at < 86_400)).toBe(true);
    const share = (truth: string) => calls.filter((c) => c.truth === truth).length / calls.length;
    expect(share('prank')).toBeGreaterThan(0.3);
    expect(share('prank')).toBeLessThan(0.5);
    expect(share('genuine')).toBeGreaterThan(0.3);
    expect(share('silent-genuine') + share('silent-accidental')).toBeGreaterThan(0.03);
    // Busier by day than at night.
    const hourOf = (at: number) => Math.floor(at / 3600);
    const night = calls.filter((c) => hourOf(c.at) < 6).length;
    const day = calls.filter((c) => hourOf(c.at) >= 7 && hourOf(c.at) < 22).length;
    expect(day).toBeGreaterThan(night * 4);
    // The same prankster calls again, in different caller-ID forms.
    const pranksBy = new Map<string, Set<string>>();
    for (const call of calls.filter((c) => c.truth === 'prank')) {
      const number = normalizeCallerId(call.from).number ?? call.from;
      pranksBy.set(number, (pranksBy.get(number) ?? new Set()).add(call.from));
    }
    const repeat = [...pranksBy.values()].filter((forms) => forms.size > 1);
    expect(repeat.length).toBeGreaterThan(0);
  });

  it('is a valid traffic file when written out', () => {
    const calls = generateDay({ seed: 3 });
    const parsed = parseTraffic(calls.map(({ line: _line, ...call }) => JSON.stringify(call)).join('\n'));
    expect(parsed.problems).toEqual([]);
    expect(parsed.calls).toEqual(calls);
  });
});
