import type { CallerIdKind } from '../records/call-record.ts';

/** A caller ID as the trunk delivered it, and what we can trust of it. */
export interface CallerIdentity {
  readonly raw: string;
  readonly kind: CallerIdKind;
  /** E.164 (`+62…`) when `kind` is `e164`, otherwise null. */
  readonly number: string | null;
  /** A stable key for caller history: the number, or one shared key per untrusted kind. */
  readonly key: string;
}

const ANONYMOUS = new Set(['anonymous', 'restricted', 'private', 'unknown', 'unavailable', 'withheld']);

/** Indonesian national significant numbers are 8 to 12 digits after the country code. */
const INDONESIAN_NSN = /^[1-9]\d{7,11}$/;
/** E.164 allows up to 15 digits; foreign roaming numbers keep their own country code. */
const E164_DIGITS = /^[1-9]\d{6,14}$/;

/**
 * Normalizes an untrusted caller ID to E.164. Indonesian forms `08…`, `628…`, `+628…`, `00628…`
 * become `+628…`; visual separators (spaces, dashes, dots, parentheses) are ignored, control characters are not; anything else is
 * `anonymous`, `empty` or `invalid` and never treated as a number to call back.
 */
export function normalizeCallerId(raw: string): CallerIdentity {
  const trimmed = raw.trim();
  if (trimmed === '') return untrusted(raw, 'empty');
  if (ANONYMOUS.has(trimmed.toLowerCase())) return untrusted(raw, 'anonymous');
  if (trimmed.length > 32) return untrusted(raw, 'invalid');

  const compact = trimmed.replace(/[ \-.()]/g, '');
  let digits: string | undefined;
  if (/^\+\d+$/.test(compact)) digits = compact.slice(1);
  else if (/^00\d+$/.test(compact)) digits = compact.slice(2);
  else if (/^0\d+$/.test(compact)) digits = `62${compact.slice(1)}`;
  else if (/^62\d+$/.test(compact)) digits = compact;

  if (digits === undefined) return untrusted(raw, 'invalid');
  const valid = digits.startsWith('62') ? INDONESIAN_NSN.test(digits.slice(2)) : E164_DIGITS.test(digits);
  if (!valid) return untrusted(raw, 'invalid');
  const number = `+${digits}`;
  return { raw, kind: 'e164', number, key: number };
}

function untrusted(raw: string, kind: Exclude<CallerIdKind, 'e164'>): CallerIdentity {
  return { raw, kind, number: null, key: `unknown:${kind}` };
}
