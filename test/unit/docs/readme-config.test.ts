import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { variables } from '../../../src/config.ts';

describe("the README's configuration table", () => {
  it('has a row for every variable the service reads', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const rows = new Set([...readme.matchAll(/^\| `([A-Z0-9_]+)` /gm)].map((match) => match[1]));
    const names = Object.values(variables).map((variable) => variable.name);
    expect(names.filter((name) => !rows.has(name))).toEqual([]);
  });
});
