import { describe, expect, it } from 'vitest';
import type { Principal } from '../../../src/auth/api-keys.ts';
import {
  createWallboardSessions,
  SESSION_TTL_MS,
  sessionCookie,
  sessionToken,
  WALLBOARD_COOKIE,
} from '../../../src/auth/wallboard-sessions.ts';

const SUPERVISOR: Principal = { keyId: 'key-1', name: 'Rina', role: 'supervisor', takerId: null };

/** Redis as the sessions use it: a map, with what was set and for how long. */
function fakeRedis() {
  const values = new Map<string, { value: string; ms: number }>();
  return {
    values,
    set: async (key: string, value: string, _mode: 'PX', ms: number) => void values.set(key, { value, ms }),
    get: async (key: string) => values.get(key)?.value ?? null,
    del: async (key: string) => (values.delete(key) ? 1 : 0),
  };
}

describe('wallboard sessions', () => {
  it('keep only the hash of the token, expiring with the session, and rest on the key', async () => {
    const redis = fakeRedis();
    const active = new Set(['key-1']);
    const sessions = createWallboardSessions({
      redis,
      prefix: 'siaga112',
      findKey: async (keyId) => (active.has(keyId) ? SUPERVISOR : undefined),
      now: () => 1_000,
    });
    const { token, expiresAt } = await sessions.open(SUPERVISOR);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(expiresAt).toEqual(new Date(1_000 + SESSION_TTL_MS));
    const [key, stored] = [...redis.values][0] ?? [];
    expect(key).toMatch(/^siaga112:wallboard-session:[0-9a-f]{64}$/);
    expect(key).not.toContain(token);
    expect(stored).toEqual({ value: 'key-1', ms: SESSION_TTL_MS });

    expect(await sessions.verify(token)).toEqual(SUPERVISOR);
    const altered = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
    expect(await sessions.verify(altered)).toBeUndefined();
    expect(await sessions.verify('short')).toBeUndefined();
    active.delete('key-1');
    expect(await sessions.verify(token)).toBeUndefined();
    active.add('key-1');
    await sessions.end(token);
    expect(await sessions.verify(token)).toBeUndefined();
  });

  it('read their token from a Cookie header and write a strict cookie', () => {
    expect(sessionToken(`a=1; ${WALLBOARD_COOKIE}=abc=; b=2`)).toBe('abc=');
    expect(sessionToken('a=1')).toBeUndefined();
    expect(sessionToken(undefined)).toBeUndefined();
    expect(sessionCookie({ token: 'abc', maxAgeMs: 60_500 }, false)).toBe(
      `${WALLBOARD_COOKIE}=abc; Max-Age=60; Path=/wallboard; HttpOnly; SameSite=Strict`,
    );
    expect(sessionCookie(null, true)).toBe(
      `${WALLBOARD_COOKIE}=; Max-Age=0; Path=/wallboard; HttpOnly; SameSite=Strict; Secure`,
    );
  });
});
