import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeCallerId } from '../../../src/routing/caller-id.ts';

describe('normalizeCallerId', () => {
  it.each([
    ['081234567890', '+6281234567890'],
    ['6281234567890', '+6281234567890'],
    ['+6281234567890', '+6281234567890'],
    ['006281234567890', '+6281234567890'],
    [' 0812-3456-7890 ', '+6281234567890'],
    ['(0401) 312 3456', '+624013123456'],
    ['+60123456789', '+60123456789'],
  ])('reads %j as %s', (raw, number) => {
    expect(normalizeCallerId(raw)).toEqual({ raw, kind: 'e164', number, key: number });
  });

  it.each([
    ['', 'empty'],
    ['   ', 'empty'],
    ['anonymous', 'anonymous'],
    ['Restricted', 'anonymous'],
    ['112', 'invalid'],
    ['0', 'invalid'],
    ['62', 'invalid'],
    ["'; DROP TABLE calls; --", 'invalid'],
    ['<script>alert(1)</script>', 'invalid'],
    ['0812\r\n34567890', 'invalid'],
    ['📞081234567890', 'invalid'],
    ['9'.repeat(300), 'invalid'],
  ])('keeps %j as an untrusted %s identity', (raw, kind) => {
    const identity = normalizeCallerId(raw);
    expect(identity).toEqual({ raw, kind, number: null, key: `unknown:${kind}` });
  });

  it('never throws, always keeps the raw value, and only returns E.164 numbers', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (raw) => {
        const identity = normalizeCallerId(raw);
        expect(identity.raw).toBe(raw);
        if (identity.kind === 'e164') expect(identity.number).toMatch(/^\+[1-9]\d{6,14}$/);
        else expect(identity.number).toBeNull();
      }),
    );
  });

  it('gives every spelling of one Indonesian number the same key', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^8[1-9]\d{7,9}$/), (nsn) => {
        const keys = new Set([`0${nsn}`, `62${nsn}`, `+62${nsn}`].map((raw) => normalizeCallerId(raw).key));
        expect([...keys]).toEqual([`+62${nsn}`]);
      }),
    );
  });
});
