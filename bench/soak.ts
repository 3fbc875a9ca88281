/**
 * Issue #8: does siaga112 stay flat over half an hour of a busy centre's traffic? The emulator runs
 * in its own process (bench/soak-traffic-process.ts) and places the demo's mix of callers at a
 * steady rate; taker phones answer, call takers talk, hang up and give verdicts, so calls
 * complete. One siaga112 process (bench/service-process.ts, the production startService) on its
 * own database and Redis prefix is sampled every few seconds: memory after a forced collection,
 * event-loop delay, active handles, its calls, Redis and PostgreSQL. At the end the traffic stops,
 * the calls drain and nothing may be left: no channel or bridge in the emulator, no call held,
 * every call exactly one ended record. Memory, delay and handles must not grow beyond the bounds
 * below. Exit code 1 when any check fails.
 *
 *   npm run soak [-- --minutes N] [-- --help]
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { resolveLocalServices } from '../src/dev/local-services.ts';
import { parseBenchOptions } from './bench-options.ts';
import { forkChild, stopChild } from './ipc.ts';
import { describeMachine, sourceState } from './run-meta.ts';
import { type SiagaRun, startSiaga } from './siaga-processes.ts';
import type { SoakTrafficApi, SoakTrafficNotices, SoakTrafficResult } from './soak-api.ts';
import { judgeSoak, type SoakBounds, type SoakEnd, type SoakSample, soakTrends } from './soak-trend.ts';

const HELP = `npm run soak [-- options]

  --minutes N          traffic this long (default 30)
  --rate N             new calls per second (default 2)
  --takers N           taker phones logged on (default 80)
  --sample-seconds S   one sample every S seconds (default 15)
  --time-scale F       talk times and callers' patience are the demo's times × F (default 0.25)
  --answer-delay MS    taker phones pick up after ringing this long (default 1500)
  --warmup S           calls before the measured traffic, drained before idle is measured (default 30)
  --seed N             the callers' generator seed (default 112)
  --service-log LEVEL  also print siaga112's log lines from LEVEL on stderr (default: none)
  --out FILE           results JSON (default bench/results/soak-<date>.json); --no-out: none
`;

/**
 * What "flat" means. Heap: a held call costs about 4.2 KB of heap (npm run bench); leaving even an
 * eighth of that behind per call fails, i.e. 0.5 KB × calls per minute (60 KB/min at 2 calls/s,
 * 86 MB a day). Resident memory also moves with the allocator and V8's pages: twice that. The
 * event loop's p99 in the last fifth of the samples may be twice the first fifth's or 20 ms more
 * (this machine is shared: a neighbour's burst doubles a 10 ms p99). Active resources (timers,
 * sockets) track the calls in progress, which vary: 1.5 × the first fifth's or 30 more. With no
 * call at all, after the soak vs before it (after the warm-up): at most 3 more.
 */
function boundsFor(rate: number): SoakBounds {
  const heapKbPerMinute = Math.max(30, Math.round(0.5 * rate * 60));
  return {
    heapKbPerMinute,
    rssKbPerMinute: 2 * heapKbPerMinute,
    loopDelayFactor: 2,
    loopDelaySlackMs: 20,
    resourcesFactor: 1.5,
    resourcesSlack: 30,
    idleResourcesSlack: 3,
  };
}

/** Keys of each Redis family whose expiry is read. */
const REDIS_EXAMPLES = 5;
/** After the drain, siaga112 gets this long to end its calls and commit their records. */
const SERVICE_DRAIN_MS = 120_000;
/**
 * Idle is measured after this pause: longer than the recorder's settle delay (60 s after a call
 * ends, a BullMQ job) and the database pool's idle timeout (30 s), so what the last calls left
 * scheduled has run and idle connections have closed.
 */
const IDLE_PAUSE_MS = 75_000;

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    minutes: { type: 'string', default: '30' },
    rate: { type: 'string', default: '2' },
    takers: { type: 'string', default: '80' },
    'sample-seconds': { type: 'string', default: '15' },
    'time-scale': { type: 'string', default: '0.25' },
    'answer-delay': { type: 'string', default: '1500' },
    warmup: { type: 'string', default: '30' },
    seed: { type: 'string', default: '112' },
    'service-log': { type: 'string', default: 'silent' },
    out: { type: 'string' },
    'no-out': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const positive = (name: string, raw: string) => {
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name}: expected a number > 0`);
  return value;
};
const options = {
  minutes: positive('minutes', values.minutes),
  rate: positive('rate', values.rate),
  takers: Math.round(positive('takers', values.takers)),
  sampleSeconds: positive('sample-seconds', values['sample-seconds']),
  timeScale: positive('time-scale', values['time-scale']),
  answerDelayMs: positive('answer-delay', values['answer-delay']),
  warmupSeconds: Number(values.warmup),
  seed: Math.round(positive('seed', values.seed)),
  serviceLogLevel: values['service-log'],
};
const today = new Date().toISOString().slice(0, 10);
const out = values['no-out']
  ? null
  : (values.out ??
    `bench/results/soak-${today}${options.minutes === 30 ? '' : `-${options.minutes}min`}.json`);
/** The longest a call of the generated mix can last: patience 300 s, then 210 s of talk (× scale). */
const drainTimeoutMs = (300 + 210) * options.timeScale * 1000 + options.answerDelayMs + 60_000;

const startedAtMs = performance.now();
const log = (message: string) =>
  process.stderr.write(
    `[soak ${((performance.now() - startedAtMs) / 60_000).toFixed(1).padStart(5)} min] ${message}\n`,
  );
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Whatever happens (a failure, Ctrl-C), children stop and the database and Redis keys go.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
const cleanups: Array<() => Promise<unknown>> = [];
let cleaning: Promise<void> | undefined;
function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    for (const step of cleanups.splice(0).reverse()) {
      await step().catch((error: unknown) => log(`cleanup: ${String(error)}`));
    }
  })();
  return cleaning;
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: cleaning up`);
    void cleanUp().finally(() => process.exit(130));
  });
}

/** One row of the soak's table: service, emulator, Redis and PostgreSQL at one moment. */
interface SoakRow extends SoakSample {
  readonly emulatorChannels: number;
  readonly emulatorBridges: number;
  readonly callersLive: number;
  readonly placed: number;
  readonly callsHeld: number;
  readonly recordBacklog: number;
  readonly redisKeys: number;
  readonly redisUsedBytes: number;
  readonly postgresConnections: number;
  readonly emulatorHeapUsedBytes: number;
  readonly heapTotalBytes: number;
  readonly externalBytes: number;
  readonly arrayBuffersBytes: number;
  /** V8's heap spaces, MB committed / used. */
  readonly heapSpacesMb: Record<string, string>;
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const loadAtStart = loadavg();
  const services = await resolveLocalServices();
  cleanups.push(() => services.stop());
  const runId = randomBytes(4).toString('hex');
  const password = randomBytes(12).toString('hex');

  const traffic = forkChild<SoakTrafficApi, SoakTrafficNotices>('emulator', './soak-traffic-process.ts');
  cleanups.push(() => stopChild(traffic, log));
  const { url, recordingsDir } = await traffic.request(
    'start',
    { password, takers: options.takers, answerDelayMs: options.answerDelayMs },
    120_000,
  );
  const endpoints = Array.from({ length: options.takers }, (_, i) => `PJSIP/taker${i + 1}`);
  const siaga: SiagaRun = await startSiaga(
    {
      services,
      options: parseBenchOptions([
        '--takers',
        String(options.takers),
        '--service-log',
        options.serviceLogLevel,
        '--no-out',
      ]),
      ariUrl: url,
      password,
      recordingsDir,
      runId,
      endpoints,
      onCleanup: (step) => cleanups.push(step),
      log,
    },
    1,
    'soak',
  );
  const service = siaga.children[0]!;
  const probe = siaga.probes[0]!;

  // Each call taker's verdict reaches siaga112 as a desk's would (an admin key may judge any call).
  const verdicts = { given: 0, refused: 0, pending: 0 };
  traffic.on('talked', ({ callId, takerId, verdict }) => {
    verdicts.pending += 1;
    void service
      .request('verdict', { callId, takerId, verdict, apiKey: siaga.adminKey })
      .then(
        ({ status }) => {
          if (status === 200) verdicts.given += 1;
          else verdicts.refused += 1;
        },
        () => (verdicts.refused += 1),
      )
      .finally(() => (verdicts.pending -= 1));
  });

  const redis = new Redis(services.redis.url, { maxRetriesPerRequest: 1 });
  cleanups.push(async () => redis.disconnect());
  const db = new pg.Client({ connectionString: siaga.databaseUrl });
  db.on('error', () => {});
  await db.connect();
  cleanups.push(() => db.end());
  const redisKeys = async () => {
    const families: Record<string, number> = {};
    /** A few keys of each family, whose expiry is read at the end. */
    const examples: Record<string, string[]> = {};
    let total = 0;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${siaga.redisPrefix}:*`, 'COUNT', 1000);
      cursor = next;
      total += keys.length;
      for (const key of keys) {
        const family = familyOf(key.slice(siaga.redisPrefix.length + 1));
        families[family] = (families[family] ?? 0) + 1;
        const some = examples[family] ?? [];
        if (some.length < REDIS_EXAMPLES) examples[family] = [...some, key];
      }
    } while (cursor !== '0');
    return { total, families, examples };
  };
  /** Families with more keys after than before, and whether any of their keys never expires. */
  const redisGrowth = async (before: RedisKeys, after: RedisKeys) => {
    const grown: Record<string, RedisGrowth> = {};
    for (const [family, count] of Object.entries(after.families)) {
      const more = count - (before.families[family] ?? 0);
      if (more <= 0) continue;
      const examples = after.examples[family] ?? [];
      const ttls = await Promise.all(examples.map((key) => redis.pttl(key)));
      const neverExpires = ttls.some((ms) => ms === -1);
      grown[family] = {
        keys: more,
        expiresInHours: ttls.filter((ms) => ms >= 0).map((ms) => Math.round(ms / 360_000) / 10),
        neverExpires,
        // What was left, to tell whose it is.
        left: neverExpires ? await Promise.all(examples.map((key) => readKey(redis, key))) : [],
      };
    }
    return grown;
  };
  const redisUsedBytes = async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0);
  // Ours is one of them: the soak's own connection, and the record watch's two.
  const postgresConnections = async () =>
    Number(
      (
        await db.query<{ n: string }>(
          'select count(*) as n from pg_stat_activity where datname = current_database()',
        )
      ).rows[0]?.n ?? 0,
    );

  const drainService = async () => {
    const deadline = performance.now() + SERVICE_DRAIN_MS;
    let status = await service.request('status', {});
    while (
      (status.activeCalls > 0 || status.recordBacklog > 0 || verdicts.pending > 0) &&
      performance.now() < deadline
    ) {
      await delay(500);
      status = await service.request('status', {});
    }
    return status;
  };
  const idle = async (label: string) => {
    await delay(IDLE_PAUSE_MS);
    const sample = await probe.sample(true);
    const resources = await service.request('resources', {});
    const keys = await redisKeys();
    const connections = await postgresConnections();
    log(
      `idle ${label}: heap ${mb(sample.heapUsedBytes)} MB, RSS ${mb(sample.rssBytes)} MB, ` +
        `${resources.total} active resources, ${keys.total} Redis keys, ${connections} PostgreSQL connections`,
    );
    return { sample, resources, redisKeys: keys, postgresConnections: connections };
  };

  if (options.warmupSeconds > 0) {
    log(`warming up: ${options.warmupSeconds} s at ${options.rate} calls/s, then the calls drain`);
    await traffic.request('run', {
      rate: options.rate,
      seed: options.seed + 1_000_000,
      timeScale: options.timeScale,
    });
    await delay(options.warmupSeconds * 1000);
    await traffic.request('stopArrivals', {});
    await traffic.request('drain', { timeoutMs: drainTimeoutMs }, drainTimeoutMs + 30_000);
    await drainService();
  }
  const before = await idle('before');

  log(`soak: ${options.minutes} min at ${options.rate} calls/s, a sample every ${options.sampleSeconds} s`);
  const rows: SoakRow[] = [];
  await traffic.request('run', { rate: options.rate, seed: options.seed, timeScale: options.timeScale });
  const trafficStart = performance.now();
  const trafficMs = options.minutes * 60_000;
  // The first sample's loop figures cover the idle pause, not traffic: start its interval now.
  await probe.sample(false);
  for (let next = options.sampleSeconds * 1000; next <= trafficMs; next += options.sampleSeconds * 1000) {
    await delay(Math.max(0, trafficStart + next - performance.now()));
    const minute = (performance.now() - trafficStart) / 60_000;
    // Loop delay is read before the forced collection (process-probe.ts): it is the service's own.
    const [sample, resources, status, state, emulatorSample, keys, used, connections] = await Promise.all([
      probe.sample(true),
      service.request('resources', {}),
      service.request('status', {}),
      traffic.request('state', {}),
      traffic.request('sample', { gc: false }),
      redisKeys(),
      redisUsedBytes(),
      postgresConnections(),
    ]);
    const row: SoakRow = {
      minute: Math.round(minute * 100) / 100,
      rssBytes: sample.rssBytes,
      heapUsedBytes: sample.heapUsedBytes,
      loopDelayP99Ms: sample.loopDelay?.p99 ?? null,
      activeResources: resources.total,
      emulatorChannels: state.channels,
      emulatorBridges: state.bridges,
      callersLive: state.live,
      placed: state.placed,
      callsHeld: status.activeCalls,
      recordBacklog: status.recordBacklog,
      redisKeys: keys.total,
      redisUsedBytes: used,
      postgresConnections: connections,
      emulatorHeapUsedBytes: emulatorSample.heapUsedBytes,
      heapTotalBytes: sample.heapTotalBytes,
      externalBytes: sample.externalBytes,
      arrayBuffersBytes: sample.arrayBuffersBytes,
      heapSpacesMb: Object.fromEntries(
        Object.entries(resources.heapSpaces).map(([space, { size, used }]) => [
          space,
          `${mb(size)} / ${mb(used)}`,
        ]),
      ),
    };
    rows.push(row);
    log(
      `${row.placed} placed, ${row.callersLive} on the line, ${row.callsHeld} held; heap ${mb(row.heapUsedBytes)} MB, ` +
        `RSS ${mb(row.rssBytes)} MB (V8 heap ${mb(row.heapTotalBytes)}, external ${mb(row.externalBytes)}), loop p99 ${row.loopDelayP99Ms} ms, ${row.activeResources} resources, ` +
        `${row.emulatorChannels} channels, ${row.emulatorBridges} bridges, ${row.redisKeys} Redis keys, ` +
        `${row.postgresConnections} PG connections`,
    );
  }

  const { placed } = await traffic.request('stopArrivals', {});
  log(`traffic stopped after ${placed} calls; draining (at most ${Math.round(drainTimeoutMs / 1000)} s)`);
  const drained = await traffic.request('drain', { timeoutMs: drainTimeoutMs }, drainTimeoutMs + 30_000);
  const serviceStatus = await drainService();
  const result = await traffic.request('result', {});
  const missing = await siaga.watch.waitFor(result.callerChannelIds, 5_000, 60_000);
  if (missing.length > 0) log(`${missing.length} calls have no ended record yet`);
  const records = await countRecords(db, result.callerChannelIds);
  const after = await idle('after');
  const state = await traffic.request('state', {});
  const logCounts = await service.request('logCounts', {});

  const redisGrown = await redisGrowth(before.redisKeys, after.redisKeys);
  for (const [family, growth] of Object.entries(redisGrown)) {
    if (!family.includes('*')) continue;
    for (const left of growth.left) log(`left in Redis (${family}, never expires): ${left}`);
  }
  const end: SoakEnd = {
    channels: state.channels,
    bridges: state.bridges,
    callsHeld: serviceStatus.activeCalls,
    recordBacklog: serviceStatus.recordBacklog,
    callsPlaced: result.callerChannelIds.length,
    unrecorded: records.unrecorded,
    duplicated: records.duplicated,
    callersLeft: drained.live,
    fallback: result.fallback,
    // Only families of keys per thing (a call, a caller, a job) can grow without end; a queue's
    // fixed keys (its id counter, its events stream) appear once.
    unexpiringRedisGrowth: Object.entries(redisGrown)
      .filter(([family, growth]) => family.includes('*') && growth.neverExpires)
      .reduce((sum, [, growth]) => sum + growth.keys, 0),
    idleResourcesBefore: before.resources.total,
    idleResourcesAfter: after.resources.total,
  };
  const trends = soakTrends(rows, options.minutes);
  const bounds = boundsFor(options.rate);
  const checks = judgeSoak(trends, end, bounds);
  const failed = checks.filter((check) => !check.ok);
  if (failed.length > 0) process.exitCode = 1;

  const first = rows[0];
  const last = rows.at(-1);
  const write = (text: string) => process.stdout.write(text);
  write(`\nsiaga112 soak, ${describeMachine()}\n`);
  write(
    `${options.minutes} min at ${options.rate} calls/s (the demo's mix), ${options.takers} takers, ` +
      `talk and patience × ${options.timeScale}; load average at start ${loadAtStart.map((l) => l.toFixed(1)).join(' ')}\n`,
  );
  write(`\nCalls\n${callTable(result, records, verdicts)}\n`);
  write(`\nSamples (every ${options.sampleSeconds} s; first, middle, last)\n${sampleTable(rows)}\n`);
  write(`\nIdle, before the soak and after it\n${idleTable(before, after)}\n`);
  write(`\nRedis keys grown over the soak, by family\n${redisTable(redisGrown)}\n`);
  write(`\nChecks\n${checkTable(checks)}\n`);
  if (first && last) {
    write(
      `\nRedis used memory (whole server, shared) ${mb(first.redisUsedBytes)} → ${mb(last.redisUsedBytes)} MB; ` +
        `emulator heap ${mb(first.emulatorHeapUsedBytes)} → ${mb(last.emulatorHeapUsedBytes)} MB\n`,
    );
  }
  const warnings = Object.entries(logCounts).sort((a, b) => b[1] - a[1]);
  write(
    `\nWarnings and errors siaga112 logged (after the soak's traffic)\n${
      warnings.length === 0
        ? 'none'
        : warnings.map(([message, n]) => `${String(n).padStart(6)}  ${message}`).join('\n')
    }\n`,
  );
  write(failed.length === 0 ? '\nflat: every check passed\n' : `\n${failed.length} check(s) failed\n`);

  if (out) {
    await mkdir(dirname(out), { recursive: true });
    const meta = {
      ...sourceState(),
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      command: `npm run soak -- ${process.argv.slice(2).join(' ')}`.trim(),
      node: process.version,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      loadAverageAtStart: loadAtStart,
      loadAverageAtEnd: loadavg(),
      note: 'a shared machine: other work ran meanwhile; figures are noisy',
    };
    const json = {
      meta,
      options,
      bounds,
      end,
      trends,
      checks,
      calls: { result: summary(result), records, verdicts },
      idle: { before: withoutExamples(before), after: withoutExamples(after) },
      samples: rows,
      logCounts,
    };
    await writeFile(out, `${JSON.stringify(json, null, 2)}\n`);
    write(`\nresults: ${out}\n`);
  }
}

interface RedisGrowth {
  keys: number;
  expiresInHours: number[];
  neverExpires: boolean;
  left: string[];
}

/** A key and its value, shortened, whatever its type. */
async function readKey(redis: Redis, key: string): Promise<string> {
  const type = await redis.type(key);
  const value =
    type === 'string'
      ? await redis.get(key)
      : type === 'set'
        ? (await redis.smembers(key)).join(' ')
        : type === 'hash'
          ? JSON.stringify(await redis.hgetall(key))
          : type === 'zset'
            ? (await redis.zrange(key, '0', '-1')).join(' ')
            : type === 'list'
              ? (await redis.lrange(key, 0, -1)).join(' ')
              : type;
  return `${key} (${type}): ${(value ?? '').slice(0, 3000)}`;
}

/** Every placed caller's records: those with no ended record, those with more than one. */
async function countRecords(db: pg.Client, channelIds: readonly string[]) {
  const { rows } = await db.query<{ caller_channel_id: string; n: number; ended: boolean }>(
    `select caller_channel_id, count(*)::int as n, bool_and(ended_at is not null) as ended
       from calls where caller_channel_id = any($1) group by caller_channel_id`,
    [channelIds],
  );
  const total = await db.query<{ n: number }>('select count(*)::int as n from calls');
  const byChannel = new Map(rows.map((row) => [row.caller_channel_id, row]));
  let unrecorded = 0;
  for (const id of channelIds) if (!byChannel.get(id)?.ended) unrecorded += 1;
  return {
    rows: total.rows[0]?.n ?? 0,
    unrecorded,
    duplicated: rows.filter((row) => row.n > 1).length,
  };
}

/** A Redis key's family: its segments with ids (uuids, numbers, channel ids) as `*`. */
function familyOf(key: string): string {
  return key
    .split(':')
    .map((segment) => (/^[A-Za-z-]+$/.test(segment) && segment.length < 40 ? segment : '*'))
    .join(':');
}

const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

function summary(result: SoakTrafficResult) {
  const { callerChannelIds, ...rest } = result;
  return { ...rest, placed: callerChannelIds.length };
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]?.length ?? 0)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function callTable(
  result: { byTruth: Record<string, { placed: number; bridged: number }>; endedBy: Record<string, number> },
  records: { rows: number; unrecorded: number; duplicated: number },
  verdicts: { given: number; refused: number },
): string {
  const rows = Object.entries(result.byTruth)
    .sort((a, b) => b[1].placed - a[1].placed)
    .map(([truth, n]) => [truth, String(n.placed), String(n.bridged)]);
  const placed = Object.values(result.byTruth).reduce((sum, n) => sum + n.placed, 0);
  const bridged = Object.values(result.byTruth).reduce((sum, n) => sum + n.bridged, 0);
  rows.push(['all (warm-up included)', String(placed), String(bridged)]);
  return `${table(['caller', 'placed', 'put through'], rows)}\nended by: ${Object.entries(result.endedBy)
    .map(([by, n]) => `${by} ${n}`)
    .join(
      ', ',
    )}; records: ${records.rows} rows in calls, ${records.unrecorded} calls without an ended record, ${
    records.duplicated
  } with more than one; verdicts given ${verdicts.given}, refused ${verdicts.refused}`;
}

function sampleTable(rows: readonly SoakRow[]): string {
  const picks = rows.length <= 3 ? rows : [rows[0]!, rows[Math.floor(rows.length / 2)]!, rows.at(-1)!];
  return table(
    [
      'minute',
      'heap MB',
      'RSS MB',
      'loop p99 ms',
      'resources',
      'on the line',
      'held',
      'channels',
      'bridges',
      'Redis keys',
      'PG conns',
    ],
    picks.map((r) => [
      r.minute.toFixed(1),
      mb(r.heapUsedBytes),
      mb(r.rssBytes),
      String(r.loopDelayP99Ms ?? '–'),
      String(r.activeResources),
      String(r.callersLive),
      String(r.callsHeld),
      String(r.emulatorChannels),
      String(r.emulatorBridges),
      String(r.redisKeys),
      String(r.postgresConnections),
    ]),
  );
}

type RedisKeys = { total: number; families: Record<string, number>; examples: Record<string, string[]> };
type Idle = {
  sample: { heapUsedBytes: number; rssBytes: number };
  resources: { total: number; byKind: Record<string, number> };
  redisKeys: RedisKeys;
  postgresConnections: number;
};

const withoutExamples = (idle: Idle) => ({
  ...idle,
  redisKeys: { total: idle.redisKeys.total, families: idle.redisKeys.families },
});

function redisTable(grown: Record<string, RedisGrowth>): string {
  const rows = Object.entries(grown)
    .sort((a, b) => b[1].keys - a[1].keys)
    .map(([family, g]) => [
      family,
      String(g.keys),
      g.neverExpires
        ? 'never (some keys)'
        : g.expiresInHours.length === 0
          ? '–'
          : `${Math.min(...g.expiresInHours)}–${Math.max(...g.expiresInHours)} h`,
    ]);
  return rows.length === 0 ? 'none' : table(['family', 'more keys', 'expire in'], rows);
}

function idleTable(before: Idle, after: Idle): string {
  const kinds = [
    ...new Set([...Object.keys(before.resources.byKind), ...Object.keys(after.resources.byKind)]),
  ].sort();
  const families = [
    ...new Set([...Object.keys(before.redisKeys.families), ...Object.keys(after.redisKeys.families)]),
  ].sort();
  return table(
    ['', 'before', 'after'],
    [
      ['heap MB', mb(before.sample.heapUsedBytes), mb(after.sample.heapUsedBytes)],
      ['RSS MB', mb(before.sample.rssBytes), mb(after.sample.rssBytes)],
      ['active resources', String(before.resources.total), String(after.resources.total)],
      ...kinds.map((kind) => [
        `  ${kind}`,
        String(before.resources.byKind[kind] ?? 0),
        String(after.resources.byKind[kind] ?? 0),
      ]),
      ['Redis keys', String(before.redisKeys.total), String(after.redisKeys.total)],
      ...families.map((family) => [
        `  ${family}`,
        String(before.redisKeys.families[family] ?? 0),
        String(after.redisKeys.families[family] ?? 0),
      ]),
      ['PostgreSQL connections', String(before.postgresConnections), String(after.postgresConnections)],
    ],
  );
}

function checkTable(checks: ReturnType<typeof judgeSoak>): string {
  return table(
    ['check', 'value', 'bound', ''],
    checks.map((check) => [
      check.name,
      String(check.value ?? 'n/a'),
      check.bound,
      check.ok ? 'ok' : 'FAILED',
    ]),
  );
}

try {
  await main();
} catch (error) {
  log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
} finally {
  await cleanUp();
}
