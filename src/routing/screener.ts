import type { Logger } from '../logger.ts';
import type { CallerHistoryStore, PastCall } from '../queues/caller-history.ts';
import type { ScreeningOutcome } from '../records/call-record.ts';
import { withTimeout } from '../with-timeout.ts';
import type { CallerIdentity } from './caller-id.ts';
import { DEFAULT_RULES, EMPTY_HISTORY, type ScreeningRules, screenCall } from './screening.ts';

export interface ScreenerOptions {
  history: Pick<CallerHistoryStore, 'read' | 'rebuild'>;
  /** A caller's calls of the last week from Postgres, to rebuild a history Redis lost. */
  loadPast(number: string, since: number): Promise<PastCall[]>;
  /** The rule set in force (rules become data in Postgres; the defaults until then). */
  rules?: () => ScreeningRules;
  /** Allowlist / blocklist membership; none until the lists exist. */
  listOf?: (number: string) => Promise<'allow' | 'block' | null>;
  logger: Logger;
  now?: () => number;
  /** Screening never holds a caller longer than this: past it, the call goes through unscreened. */
  timeoutMs?: number;
}

const WEEK_MS = 7 * 24 * 3600_000;

/**
 * Screens one arriving call: reads the caller's history (one Redis round trip), applies the pure
 * rules, and records the arrival for the next call. Fails open: any error or delay lets the call
 * through at normal priority, with the reason on its record.
 */
export class Screener {
  readonly #options: ScreenerOptions;
  readonly #rebuilding = new Set<string>();

  constructor(options: ScreenerOptions) {
    this.#options = options;
  }

  async screen(identity: CallerIdentity, callId: string): Promise<ScreeningOutcome> {
    const now = (this.#options.now ?? Date.now)();
    const rules = this.#options.rules?.() ?? DEFAULT_RULES;
    const number = identity.number;
    if (identity.kind !== 'e164' || number === null) {
      return screenCall(EMPTY_HISTORY, { callerIdKind: identity.kind, list: null, now }, rules);
    }
    try {
      const [{ history, rebuilt }, list] = await withTimeout(
        Promise.all([
          this.#options.history.read(number, now, { recordArrivalOf: callId }),
          this.#options.listOf?.(number) ?? Promise.resolve(null),
        ]),
        this.#options.timeoutMs ?? 250,
        () => new Error(`no answer within ${this.#options.timeoutMs ?? 250} ms`),
      );
      if (!rebuilt) this.#rebuild(number, now);
      return screenCall(history, { callerIdKind: 'e164', list, now }, rules);
    } catch (error) {
      this.#options.logger.warn({ err: error, callId }, 'screening unavailable; the call goes through');
      return { decision: 'connect', score: 0, reasons: ['screening unavailable: let through (fail open)'] };
    }
  }

  /** Off the call's path: the next call of this number sees the rebuilt history. */
  #rebuild(number: string, now: number): void {
    if (this.#rebuilding.has(number)) return;
    this.#rebuilding.add(number);
    void (async () => {
      try {
        const past = await this.#options.loadPast(number, now - WEEK_MS);
        await this.#options.history.rebuild(number, past, now);
      } catch (error) {
        this.#options.logger.warn({ err: error }, 'could not rebuild caller history from Postgres');
      } finally {
        this.#rebuilding.delete(number);
      }
    })();
  }
}

/**
 * When Redis has lost the callers' history (or never had it), rebuilds all of it from Postgres
 * once, in the background: afterwards no call waits on, or triggers, a per-caller rebuild. One
 * instance does it at a time; until it is done, callers are rebuilt one by one as they call.
 */
export async function rebuildAllCallerHistory(options: {
  history: Pick<CallerHistoryStore, 'isComplete' | 'claimFullRebuild' | 'rebuild' | 'markComplete'>;
  loadSince(since: number): Promise<Array<PastCall & { number: string }>>;
  now: number;
  logger: Logger;
}): Promise<number | null> {
  const { history, now } = options;
  if ((await history.isComplete()) || !(await history.claimFullRebuild(300))) return null;
  const byNumber = new Map<string, PastCall[]>();
  for (const call of await options.loadSince(now - WEEK_MS)) {
    byNumber.set(call.number, [...(byNumber.get(call.number) ?? []), call]);
  }
  for (const [number, calls] of byNumber) await history.rebuild(number, calls, now);
  await history.markComplete(now);
  options.logger.info({ callers: byNumber.size }, 'caller history rebuilt from Postgres');
  return byNumber.size;
}
