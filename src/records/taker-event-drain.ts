/**
 * Copies the taker-events stream (see `taker-event.ts`) into Postgres, at least once and
 * idempotently, shared by every service instance through one consumer group.
 *
 * Each batch is committed in one statement, then acknowledged and deleted from the stream in one
 * MULTI: the stream holds exactly what is not yet in Postgres, and nothing unacknowledged is ever
 * trimmed. While Postgres is away the batch is kept and retried with capped, jittered backoff,
 * without end; new entries wait in Redis. An instance that dies mid-batch leaves its entries
 * pending; another claims them once they have been idle for `claimIdleMs`. Redelivery is safe:
 * the stream id is the primary key.
 *
 * XDEL removes an entry for every group, so this group must stay the stream's only reader.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { RecordLogger } from './record-writer.ts';
import {
  parseTakerEventEntry,
  type TakerEvent,
  takerEventDeadLetterKey,
  takerEventStreamKey,
} from './taker-event.ts';
import type { TakerEventRepository } from './taker-event-repository.ts';

export const TAKER_EVENT_GROUP = 'records';

export const TAKER_EVENT_DRAIN_DEFAULTS = {
  /** Most entries read, and committed in one statement, at a time. */
  batchSize: 200,
  /** How long one read waits for new entries; close() does not wait for it. */
  blockMs: 1_000,
  /** Entries pending this long under another consumer are taken over (it is presumed dead). */
  claimIdleMs: 10_000,
  /** How often to look for such entries. */
  claimIntervalMs: 5_000,
  retry: { initialDelayMs: 250, maxDelayMs: 5_000 },
} as const;

/** Dead entries are for a person to look at, not a backlog: the oldest go beyond this many. */
const DEAD_LETTER_MAXLEN = 10_000;

export interface TakerEventDrainOptions {
  redisUrl: string;
  /** REDIS_KEY_PREFIX: the stream is `${prefix}:taker-events`. */
  prefix: string;
  repository: Pick<TakerEventRepository, 'insertTakerEvents'>;
  logger: RecordLogger;
  /** Unique per instance (e.g. SIAGA_INSTANCE_ID): the consumer name in the group. */
  consumerName: string;
  batchSize?: number;
  blockMs?: number;
  claimIdleMs?: number;
  claimIntervalMs?: number;
  retry?: { initialDelayMs: number; maxDelayMs: number };
}

export interface TakerEventDrain {
  /**
   * Stops promptly: a read in flight is cut, a retry pause is ended; only a Postgres statement in
   * flight is waited for (bounded by the database's timeouts). Whatever is not committed stays
   * pending in the group for the next drain.
   */
  close(): Promise<void>;
  /** Entries not yet committed to Postgres (waiting or pending in the stream). */
  lag(): Promise<number>;
}

/** One stream entry as Redis returns it; `null` fields: deleted while still pending. */
export type StreamEntry = readonly [id: string, fields: readonly string[] | null];

/** Capped exponential backoff with jitter: half the capped delay fixed, half random. */
export function backoffDelayMs(
  attempt: number,
  retry: { initialDelayMs: number; maxDelayMs: number } = TAKER_EVENT_DRAIN_DEFAULTS.retry,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 30);
  const capped = Math.min(retry.maxDelayMs, retry.initialDelayMs * 2 ** exponent);
  return capped / 2 + random() * (capped / 2);
}

/**
 * SQLSTATE classes 22 (data exception), 23 (integrity constraint) and 54 (program limit, e.g. an
 * index row too large) mean an entry is wrong, not that Postgres is away: retrying the same
 * batch would stall the drain forever, so it is split and the culprit set aside.
 */
export function isEntrySpecificError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^(22|23|54)[0-9A-Z]{3}$/.test(code);
}

/** Redis error replies start with their code (`BUSYGROUP ...`); that word is the protocol's code. */
const redisErrorCode = (error: unknown) =>
  error instanceof Error ? /^[A-Z]+(?= |$)/.exec(error.message)?.[0] : undefined;

function entryList(value: unknown): StreamEntry[] {
  if (!Array.isArray(value)) return [];
  const out: StreamEntry[] = [];
  for (const item of value) {
    if (!Array.isArray(item) || typeof item[0] !== 'string') continue;
    const fields: unknown = item[1];
    out.push([item[0], Array.isArray(fields) ? fields.map(String) : null]);
  }
  return out;
}

/**
 * The entries of an XREADGROUP reply over one stream: `null` (timed out), `[[key, entries]]`
 * (RESP2) or `[key, entries]` (RESP3 maps as ioredis flattens them by default).
 */
export function readGroupEntries(reply: unknown): StreamEntry[] {
  if (!Array.isArray(reply) || reply.length === 0) return [];
  if (typeof reply[0] === 'string') return entryList(reply[1]);
  return reply.flatMap((stream: unknown) => (Array.isArray(stream) ? entryList(stream[1]) : []));
}

/** An XAUTOCLAIM reply: `[next cursor, entries, deleted ids]` (the last since Redis 7). */
export function autoClaimEntries(reply: unknown): { next: string; entries: StreamEntry[] } {
  if (!Array.isArray(reply) || typeof reply[0] !== 'string') return { next: '0-0', entries: [] };
  return { next: reply[0], entries: entryList(reply[1]) };
}

interface DeadEntry {
  readonly streamId: string;
  readonly problem: string;
  readonly fields: readonly string[];
}

export function startTakerEventDrain(options: TakerEventDrainOptions): TakerEventDrain {
  const { repository, logger, consumerName: consumer } = options;
  const key = takerEventStreamKey(options.prefix);
  const deadKey = takerEventDeadLetterKey(options.prefix);
  const defaults = TAKER_EVENT_DRAIN_DEFAULTS;
  const batchSize = options.batchSize ?? defaults.batchSize;
  const blockMs = options.blockMs ?? defaults.blockMs;
  const claimIdleMs = options.claimIdleMs ?? defaults.claimIdleMs;
  const claimIntervalMs = options.claimIntervalMs ?? defaults.claimIntervalMs;
  const retry = options.retry ?? defaults.retry;
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new RangeError(`batchSize must be ≥ 1: ${batchSize}`);
  // BLOCK 0 would wait forever.
  if (!Number.isInteger(blockMs) || blockMs < 1) throw new RangeError(`blockMs must be ≥ 1: ${blockMs}`);

  // Blocking reads get their own connection, so acks, claims and lag() never queue behind one.
  // A command timeout notices a half-open connection that would otherwise hang a read forever.
  const reader = new Redis(options.redisUrl, {
    maxRetriesPerRequest: 2,
    commandTimeout: blockMs + 10_000,
    // Named for CLIENT LIST (Redis refuses spaces and control characters in a name).
    connectionName: `${key}:${consumer}`.replace(/[^\x21-\x7e]/g, '-'),
  });
  const commands = new Redis(options.redisUrl, { maxRetriesPerRequest: 2, commandTimeout: 10_000 });
  // Failures reach the loop through the commands themselves and are logged there, once per
  // outage; without a listener ioredis would print every reconnect attempt.
  reader.on('error', () => {});
  commands.on('error', () => {});

  const stop = new AbortController();
  let stopping = false;
  const pause = (ms: number) => sleep(ms, undefined, { signal: stop.signal }).catch(() => {});

  // Consecutive failures: the first is logged, the rest only counted until things work again.
  let redisFailures = 0;
  let databaseFailures = 0;

  const redisFailed = async (err: unknown) => {
    redisFailures += 1;
    if (redisFailures === 1) logger.warn({ err }, 'taker event drain: Redis unavailable; retrying');
    await pause(backoffDelayMs(redisFailures, retry));
  };
  const redisWorks = () => {
    if (redisFailures === 0) return;
    logger.info({ failedAttempts: redisFailures }, 'taker event drain: Redis back');
    redisFailures = 0;
  };

  const createGroup = async () => {
    try {
      // From id 0, not `$`: entries the scripts wrote before any drain ever ran are drained too.
      await commands.call('XGROUP', ['CREATE', key, TAKER_EVENT_GROUP, '0', 'MKSTREAM']);
    } catch (err) {
      if (redisErrorCode(err) !== 'BUSYGROUP') throw err;
    }
  };

  /** Resets the idle time of a batch still being worked on, so no other instance claims it. */
  const keepClaimed = (ids: readonly string[]) =>
    commands.call('XCLAIM', [key, TAKER_EVENT_GROUP, consumer, 0, ...ids, 'JUSTID']).catch(() => {});

  /**
   * Inserts the events; entries Postgres refuses for what they contain come back (the rest are
   * stored). Throws when Postgres is away.
   */
  const store = async (events: readonly TakerEvent[], raw: ReadonlyMap<string, readonly string[]>) => {
    const refuse = (event: TakerEvent, err: unknown): DeadEntry => {
      logger.error(
        { err, streamId: event.streamId },
        'taker event refused by Postgres; moved to the dead-letter stream',
      );
      const code = (err as { code?: unknown }).code;
      return {
        streamId: event.streamId,
        problem: `refused by Postgres (${code})`,
        fields: raw.get(event.streamId) ?? [],
      };
    };
    try {
      await repository.insertTakerEvents(events);
      return [];
    } catch (err) {
      if (!isEntrySpecificError(err)) throw err;
      if (events.length === 1) return [refuse(events[0]!, err)];
      logger.warn({ err, size: events.length }, 'taker event batch refused; storing its events one by one');
    }
    const refused: DeadEntry[] = [];
    for (const event of events) {
      try {
        await repository.insertTakerEvents([event]);
      } catch (err) {
        if (!isEntrySpecificError(err)) throw err;
        refused.push(refuse(event, err));
      }
    }
    return refused;
  };

  /** Commits until it works; undefined when the drain is closing first. */
  const commit = async (events: readonly TakerEvent[], raw: ReadonlyMap<string, readonly string[]>) => {
    if (events.length === 0) return [];
    for (let attempt = 1; ; attempt++) {
      try {
        const refused = await store(events, raw);
        if (databaseFailures > 0) {
          logger.info({ failedAttempts: databaseFailures }, 'taker events committed again');
          databaseFailures = 0;
        }
        return refused;
      } catch (err) {
        databaseFailures += 1;
        if (databaseFailures === 1)
          logger.warn(
            { err, size: events.length },
            'taker events not committed; retrying until Postgres takes them',
          );
        if (stopping) return undefined;
        await pause(backoffDelayMs(attempt, retry));
        if (stopping) return undefined;
      }
    }
  };

  /** Acknowledges and deletes the batch, keeping dead entries aside, in one MULTI. */
  const settle = async (ids: readonly string[], dead: readonly DeadEntry[]) => {
    while (true) {
      try {
        const tx = commands.multi();
        for (const d of dead) {
          tx.call('XADD', [
            deadKey,
            'MAXLEN',
            '~',
            DEAD_LETTER_MAXLEN,
            '*',
            'entry',
            d.streamId,
            'problem',
            d.problem,
            ...d.fields,
          ]);
        }
        tx.call('XACK', [key, TAKER_EVENT_GROUP, ...ids]);
        tx.call('XDEL', [key, ...ids]);
        const results = await tx.exec();
        if (results === null) throw new Error('taker event acknowledgement: transaction discarded');
        const failed = results.find(([error]) => error !== null);
        if (failed) throw failed[0];
        redisWorks();
        return;
      } catch (err) {
        // Already in Postgres: when redelivered, the entries are stored no second time.
        if (stopping) return;
        await redisFailed(err);
      }
    }
  };

  const handle = async (entries: readonly StreamEntry[]) => {
    if (entries.length === 0) return;
    const raw = new Map<string, readonly string[]>();
    const events: TakerEvent[] = [];
    const dead: DeadEntry[] = [];
    for (const [id, fields] of entries) {
      const parsed = parseTakerEventEntry(id, fields);
      if (parsed.kind === 'event') {
        events.push(parsed.event);
        raw.set(id, fields ?? []);
        if (parsed.problems.length > 0)
          logger.warn({ streamId: id, problems: parsed.problems }, 'taker event repaired before storing');
      } else if (parsed.kind === 'dead') {
        dead.push({ streamId: id, problem: parsed.problem, fields: fields ?? [] });
        logger.warn(
          { streamId: id, problem: parsed.problem, fields },
          'taker event unusable; moved to the dead-letter stream',
        );
      }
      // 'gone': deleted from the stream while pending; acknowledging it is all there is to do.
    }
    const ids = entries.map(([id]) => id);
    const heartbeat = setInterval(() => void keepClaimed(ids), Math.max(1, Math.floor(claimIdleMs / 3)));
    heartbeat.unref();
    try {
      const refused = await commit(events, raw);
      if (refused === undefined) return; // closing: left pending for the next drain
      await settle(ids, [...dead, ...refused]);
    } finally {
      clearInterval(heartbeat);
    }
  };

  const run = async () => {
    let groupReady = false;
    // First this consumer's own pending entries (a previous run under this name died mid-batch),
    // then new ones; undefined once caught up.
    let ownCursor: string | undefined = '0';
    let claimCursor = '0-0';
    // Claim at once: an instance that crashed before this one started may have left entries.
    let nextClaimAt = 0;
    while (!stopping) {
      try {
        if (!groupReady) {
          await createGroup();
          groupReady = true;
        }
        let entries: StreamEntry[];
        if (Date.now() >= nextClaimAt) {
          const claimed = autoClaimEntries(
            await commands.call('XAUTOCLAIM', [
              key,
              TAKER_EVENT_GROUP,
              consumer,
              claimIdleMs,
              claimCursor,
              'COUNT',
              batchSize,
            ]),
          );
          claimCursor = claimed.next;
          // More to look at: claim again straight away; otherwise wait for the next round.
          if (claimCursor === '0-0') nextClaimAt = Date.now() + claimIntervalMs;
          entries = claimed.entries;
        } else if (ownCursor !== undefined) {
          const reply = await reader.call('XREADGROUP', [
            'GROUP',
            TAKER_EVENT_GROUP,
            consumer,
            'COUNT',
            batchSize,
            'STREAMS',
            key,
            ownCursor,
          ]);
          entries = readGroupEntries(reply);
          ownCursor = entries.at(-1)?.[0];
        } else {
          const reply = await reader.call('XREADGROUP', [
            'GROUP',
            TAKER_EVENT_GROUP,
            consumer,
            'COUNT',
            batchSize,
            'BLOCK',
            blockMs,
            'STREAMS',
            key,
            '>',
          ]);
          entries = readGroupEntries(reply);
        }
        redisWorks();
        await handle(entries);
      } catch (err) {
        if (stopping) break;
        if (redisErrorCode(err) === 'NOGROUP') {
          // The stream and its group are gone (Redis restarted without persistence, or flushed):
          // make the group again, from the start of whatever the scripts write from now on.
          logger.warn({ err }, 'taker event drain: consumer group missing; creating it again');
          groupReady = false;
          await pause(backoffDelayMs(1, retry));
          continue;
        }
        await redisFailed(err);
      }
    }
  };

  const loop = run().catch((err: unknown) => logger.error({ err }, 'taker event drain stopped by a bug'));
  let closing: Promise<void> | undefined;

  return {
    close() {
      closing ??= (async () => {
        stopping = true;
        stop.abort();
        // A BLOCK in flight fails at once instead of running out. Whatever it had delivered stays
        // pending under this consumer: read by the next drain of this name, or claimed by another.
        reader.disconnect();
        await loop;
        await commands.quit().catch(() => commands.disconnect());
      })();
      return closing;
    },
    lag: () => commands.xlen(key),
  };
}
