/**
 * `npm run replay -- <traffic.jsonl> [--rate 60] [--takers 2] [--answer-seconds 3] [--json report.json]`
 *
 * Replays a traffic file (../shared/traffic/FORMAT.md) through the real service on the Asterisk
 * emulator, in a database and Redis prefix of its own (both removed afterwards), and prints the
 * report; `--json` also writes it as JSON.
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { resolveLocalServices } from '../dev/local-services.ts';
import { deleteRedisPrefix } from '../dev/redis-prefix.ts';
import { runReplay } from './replay.ts';
import { buildReplayReport, formatReplayReport } from './replay-report.ts';
import { parseTraffic } from './traffic.ts';

const USAGE =
  'usage: npm run replay -- <traffic.jsonl> [--rate 60] [--takers 2] [--answer-seconds 3] [--json report.json]';

function positiveNumber(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new Error(`--${name} must be a positive number, got ${JSON.stringify(value)}`);
  return n;
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      rate: { type: 'string' },
      takers: { type: 'string' },
      'answer-seconds': { type: 'string' },
      json: { type: 'string' },
    },
  });
  const file = positionals[0];
  if (!file || positionals.length > 1) {
    console.error(USAGE);
    return 2;
  }
  const rate = positiveNumber(values.rate, 'rate', 60);
  if (rate < 1) throw new Error('--rate must be ≥ 1');
  const takers = Math.round(positiveNumber(values.takers, 'takers', 2));
  const takerAnswerSeconds = positiveNumber(values['answer-seconds'], 'answer-seconds', 3);

  const traffic = parseTraffic(await readFile(file, 'utf8'));
  for (const problem of traffic.problems)
    console.error(`${file}:${problem.line}: skipped: ${problem.message}`);
  if (traffic.calls.length === 0) {
    console.error(`${file}: no calls to replay`);
    return 1;
  }
  const span = traffic.calls.at(-1)!.at;
  console.log(
    `replaying ${traffic.calls.length} calls over ${(span / 3600).toFixed(1)} h of call time: ` +
      `${takers} virtual call takers (pick up after ${takerAnswerSeconds} s), time ×${rate}, idle stretches skipped`,
  );

  const services = await resolveLocalServices();
  const runId = randomBytes(4).toString('hex');
  const redisPrefix = `siaga112-replay-${runId}`;
  const started = performance.now();
  try {
    const databaseUrl = await services.createDatabase(`siaga112_replay_${runId}`);
    let lastShown = 0;
    const outcomes = await runReplay({
      calls: traffic.calls,
      rate,
      takers,
      takerAnswerSeconds,
      databaseUrl,
      redisUrl: services.redis.url,
      redisPrefix,
      ...(process.env.LOG_LEVEL ? { logLevel: process.env.LOG_LEVEL } : {}),
      onProgress: (placed, total) => {
        const now = performance.now();
        if (placed === total || now - lastShown > 10_000) {
          lastShown = now;
          console.log(`  ${placed}/${total} calls placed (${((now - started) / 1000).toFixed(0)} s)`);
        }
      },
    });
    const report = buildReplayReport(outcomes, traffic.problems);
    console.log(`\nreplayed in ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
    console.log(formatReplayReport(report));
    if (values.json) {
      const json = { file, rate, takers, takerAnswerSeconds, ...report };
      await writeFile(values.json, `${JSON.stringify(json, null, 2)}\n`);
      console.log(`\nJSON report: ${values.json}`);
    }
    return report.genuineNotReached.length === 0 && report.missingRecords.length === 0 ? 0 : 1;
  } finally {
    await deleteRedisPrefix(services.redis.url, redisPrefix);
    await services.stop();
  }
}

try {
  process.exitCode = await main();
} catch (error) {
  console.error(`siaga112 replay: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
