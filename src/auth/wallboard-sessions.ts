/**
 * Wallboard sessions: a browser's EventSource cannot send `Authorization`, so a supervisor's key is
 * exchanged once (`POST /wallboard/session`, with the key in the header) for a random token in an
 * HttpOnly, SameSite=Strict cookie scoped to `/wallboard`. The token is good for the wallboard's
 * read-only routes only, for `SESSION_TTL_MS` at most, and only while the key it came from is not
 * revoked. Redis keeps the SHA-256 of each token (every instance can check it; a dump of Redis holds
 * no usable token), expiring on its own.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Principal } from './api-keys.ts';

/** The cookie's name; its path is `/wallboard`. */
export const WALLBOARD_COOKIE = 'siaga112_wallboard';
/** A shift and then some: a wall screen signs in once a day. */
export const SESSION_TTL_MS = 12 * 3600_000;

const TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** The slice of a Redis client the sessions need. */
export interface SessionRedis {
  set(key: string, value: string, mode: 'PX', ms: number): Promise<unknown>;
  get(key: string): Promise<string | null>;
  del(key: string): Promise<number>;
}

export interface WallboardSessions {
  /** A new session for the holder of a key: the token goes into the cookie, nowhere else. */
  open(principal: Principal): Promise<{ token: string; expiresAt: Date }>;
  /** The key holder of a live session whose key is still valid. */
  verify(token: string): Promise<Principal | undefined>;
  /** Ends a session (signing out). */
  end(token: string): Promise<void>;
}

export function createWallboardSessions(deps: {
  redis: SessionRedis;
  prefix: string;
  /** The principal of an unrevoked key. */
  findKey(keyId: string): Promise<Principal | undefined>;
  ttlMs?: number;
  now?: () => number;
}): WallboardSessions {
  const ttlMs = deps.ttlMs ?? SESSION_TTL_MS;
  const now = deps.now ?? Date.now;
  const keyOf = (token: string) =>
    `${deps.prefix}:wallboard-session:${createHash('sha256').update(token).digest('hex')}`;
  return {
    async open(principal) {
      const token = randomBytes(32).toString('base64url');
      await deps.redis.set(keyOf(token), principal.keyId, 'PX', ttlMs);
      return { token, expiresAt: new Date(now() + ttlMs) };
    },
    async verify(token) {
      if (!TOKEN.test(token)) return undefined;
      const keyId = await deps.redis.get(keyOf(token));
      return keyId ? deps.findKey(keyId) : undefined;
    },
    async end(token) {
      if (TOKEN.test(token)) await deps.redis.del(keyOf(token));
    },
  };
}

/** The wallboard token in a `Cookie` header, if any. */
export function sessionToken(cookieHeader: string | undefined): string | undefined {
  for (const pair of (cookieHeader ?? '').split(';')) {
    const [name, ...value] = pair.trim().split('=');
    if (name === WALLBOARD_COOKIE) return value.join('=');
  }
  return undefined;
}

/** The `Set-Cookie` value for a session (or, with no token, the one that removes it). */
export function sessionCookie(session: { token: string; maxAgeMs: number } | null, secure: boolean): string {
  const attributes = ['Path=/wallboard', 'HttpOnly', 'SameSite=Strict', ...(secure ? ['Secure'] : [])];
  const value = session ? session.token : '';
  const maxAge = session ? Math.floor(session.maxAgeMs / 1000) : 0;
  return [`${WALLBOARD_COOKIE}=${value}`, `Max-Age=${maxAge}`, ...attributes].join('; ');
}
