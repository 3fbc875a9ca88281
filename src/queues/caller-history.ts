import type { Redis } from 'ioredis';
import { type CallerHistory, EMPTY_HISTORY, VERDICTS, type Verdict } from '../routing/screening.ts';
import { execAll } from './redis-script.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** The longest window the rules look at; older entries are trimmed. */
const KEEP_MS = 7 * DAY;
/** Keys outlive the window a little, so a quiet number's history expires by itself. */
const TTL_SECONDS = 8 * 24 * 3600;

/** One past call of a caller, as Postgres has it: what a rebuild needs. */
export interface PastCall {
  callId: string;
  arrivedAt: number;
  verdict: Verdict | null;
  verdictAt: number | null;
  ivrHangup: boolean;
  releasedAt: number | null;
}

/**
 * Per-caller history in Redis for screening: sorted sets of call ids by time (arrivals, each
 * verdict, hang-ups in the IVR) and the last release. Only trusted numbers (E.164) have one;
 * shared identities (anonymous, empty, junk) are never recorded or judged. When Redis has lost a
 * caller's history (restart, flush), it is rebuilt from Postgres the first time the caller calls.
 */
export class CallerHistoryStore {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    this.#prefix = prefix;
  }

  /**
   * The history as the rules count it, at `now`, in one round trip. `rebuilt` is false when Redis
   * has no record of having loaded this caller from Postgres (a new number, or Redis lost it):
   * the caller then rebuilds in the background, off the call's path.
   */
  async read(
    number: string,
    now: number,
    options: { recordArrivalOf?: string } = {},
  ): Promise<{ history: CallerHistory; rebuilt: boolean }> {
    const count = (set: string, sinceMs: number) =>
      ['zcount', this.#key(number, set), String(now - sinceMs), '+inf'] as [string, ...string[]];
    // The arrival of the call being screened is recorded after the counts, in the same round trip:
    // it does not count itself.
    const calls = this.#key(number, 'calls');
    const arrival: Array<[string, ...string[]]> = options.recordArrivalOf
      ? [
          ['zadd', calls, String(now), options.recordArrivalOf],
          ['zremrangebyscore', calls, '-inf', String(now - KEEP_MS)],
          ['expire', calls, String(TTL_SECONDS)],
        ]
      : [];
    const replies = await execAll(
      this.#redis.pipeline([
        count('calls', 10 * MINUTE),
        count('calls', HOUR),
        count('calls', DAY),
        count('calls', KEEP_MS),
        count('verdict:prank', DAY),
        count('verdict:prank', KEEP_MS),
        count('verdict:genuine', KEEP_MS),
        count('verdict:silent', KEEP_MS),
        count('ivr-hangups', DAY),
        ['get', this.#key(number, 'released')],
        ['exists', this.#key(number, 'built')],
        ['exists', this.#completeKey],
        ...arrival,
      ]),
    );
    const n = (i: number) => Number(replies[i] ?? 0);
    const released = replies[9];
    const history: CallerHistory = {
      calls: { last10m: n(0), last1h: n(1), last24h: n(2), last7d: n(3) },
      verdicts: {
        prank: { last24h: n(4), last7d: n(5) },
        genuine: { last7d: n(6) },
        silent: { last7d: n(7) },
      },
      ivrHangups24h: n(8),
      lastReleasedAt: typeof released === 'string' ? Number(released) : EMPTY_HISTORY.lastReleasedAt,
    };
    return { history, rebuilt: n(10) === 1 || n(11) === 1 };
  }

  /** Redis holds every caller's history (a full rebuild ran): no per-caller rebuild is needed. */
  async markComplete(at: number): Promise<void> {
    await this.#redis.set(this.#completeKey, String(at));
  }

  async isComplete(): Promise<boolean> {
    return (await this.#redis.exists(this.#completeKey)) === 1;
  }

  /** One instance at a time rebuilds everything; true when this one may. */
  async claimFullRebuild(ttlSeconds: number): Promise<boolean> {
    return (
      (await this.#redis.set(`${this.#prefix}:caller-history:rebuilding`, '1', 'EX', ttlSeconds, 'NX')) ===
      'OK'
    );
  }

  get #completeKey(): string {
    return `${this.#prefix}:caller-history:complete`;
  }

  async recordArrival(number: string, callId: string, at: number): Promise<void> {
    await this.#add(number, 'calls', callId, at);
  }

  /** A call taker's verdict; a changed verdict replaces the earlier one of the same call. */
  async recordVerdict(number: string, callId: string, verdict: Verdict, at: number): Promise<void> {
    const multi = this.#redis.multi();
    for (const other of VERDICTS) {
      if (other !== verdict) multi.zrem(this.#key(number, `verdict:${other}`), callId);
    }
    await execAll(multi);
    await this.#add(number, `verdict:${verdict}`, callId, at);
  }

  async recordIvrHangup(number: string, callId: string, at: number): Promise<void> {
    await this.#add(number, 'ivr-hangups', callId, at);
  }

  async recordRelease(number: string, at: number): Promise<void> {
    await this.#redis.set(this.#key(number, 'released'), String(at), 'EX', TTL_SECONDS);
  }

  /**
   * Merges what Postgres knows of the caller's last seven days into Redis (entries are keyed by
   * call id, so what Redis recorded meanwhile is kept and nothing is counted twice).
   */
  async rebuild(number: string, calls: readonly PastCall[], now: number): Promise<void> {
    const multi = this.#redis.multi();
    let lastRelease: number | null = null;
    for (const call of calls) {
      if (call.arrivedAt < now - KEEP_MS) continue;
      multi.zadd(this.#key(number, 'calls'), call.arrivedAt, call.callId);
      if (call.verdict)
        multi.zadd(
          this.#key(number, `verdict:${call.verdict}`),
          call.verdictAt ?? call.arrivedAt,
          call.callId,
        );
      if (call.ivrHangup) multi.zadd(this.#key(number, 'ivr-hangups'), call.arrivedAt, call.callId);
      if (call.releasedAt !== null && (lastRelease === null || call.releasedAt > lastRelease))
        lastRelease = call.releasedAt;
    }
    if (lastRelease !== null)
      multi.set(this.#key(number, 'released'), String(lastRelease), 'EX', TTL_SECONDS);
    for (const set of ['calls', 'ivr-hangups', ...VERDICTS.map((v) => `verdict:${v}`)]) {
      multi.expire(this.#key(number, set), TTL_SECONDS);
    }
    multi.set(this.#key(number, 'built'), String(now), 'EX', TTL_SECONDS);
    await execAll(multi);
  }

  async #add(number: string, set: string, callId: string, at: number): Promise<void> {
    const key = this.#key(number, set);
    await execAll(
      this.#redis
        .multi()
        .zadd(key, at, callId)
        .zremrangebyscore(key, '-inf', String(at - KEEP_MS))
        .expire(key, TTL_SECONDS),
    );
  }

  #key(number: string, part: string): string {
    return `${this.#prefix}:caller:${number}:${part}`;
  }
}
