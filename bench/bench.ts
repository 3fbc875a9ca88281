/**
 * Issue #9: how much traffic one siaga112 process takes, what it adds to each call, how fast
 * records land, what a call costs in CPU and memory, and what a second process adds. The
 * emulator runs in its own process (as Asterisk does) and places clean callers in stages: the
 * floor (a Stasis app with no logic, the same ARI requests), a steady rate, calls held together
 * (memory), a ramp to saturation, a surge, and the steady rate and a ramp again with two
 * siaga112 processes on one Redis. Each siaga112 run gets its own database and Redis prefix,
 * removed at the end (also on Ctrl-C).
 *
 *   npm run bench [-- --quick] [-- --help]
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { dirname } from 'node:path';
import { resolveLocalServices } from '../src/dev/local-services.ts';
import type { FloorApi, TrafficApi, TrafficNotices } from './bench-api.ts';
import { type BenchOptions, parseBenchOptions, type StageName } from './bench-options.ts';
import { forkChild, stopChild } from './ipc.ts';
import { latencyTable, memoryTable, type StageReport, serviceLogTable, throughputTable } from './report.ts';
import { describeMachine, sourceState } from './run-meta.ts';
import {
  ARI_USER,
  type SiagaContext,
  type SiagaRun,
  startSiaga as startSiagaProcesses,
} from './siaga-processes.ts';
import { createStageRunner, FLOOR_APP, MEMORY_DELAY_MS, type Probe, type StagePlan } from './stage-runner.ts';
import { evaluateTargets, targetsTable } from './targets.ts';

const options = parseBenchOptions(process.argv.slice(2));
/** Each app's CPU use with no calls is measured this long, to tell per-call CPU from idle CPU. */
const IDLE_MS = options.quick ? 1000 : 5000;
const startedAtMs = performance.now();
const log = (message: string) =>
  process.stderr.write(
    `[bench ${((performance.now() - startedAtMs) / 1000).toFixed(0).padStart(3)} s] ${message}\n`,
  );

// Whatever happens (a failure, Ctrl-C, a reader of our output going away), children stop and
// databases and Redis keys go.
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

async function main(): Promise<void> {
  const startedAt = new Date();
  const load = loadavg();
  const services = await resolveLocalServices();
  cleanups.push(() => services.stop());
  const runId = randomBytes(4).toString('hex');
  const password = randomBytes(12).toString('hex');

  const traffic = forkChild<TrafficApi, TrafficNotices>('emulator', './traffic-process.ts');
  cleanups.push(() => stopChild(traffic, log));
  const { url, recordingsDir } = await traffic.request(
    'start',
    {
      password,
      takers: options.takers,
      answerDelayMs: options.answerDelayMs,
      talkMs: options.talkMs,
      trunks: options.trunks,
      greetingMs: options.greetingMs,
    },
    120_000,
  );
  const endpoints = Array.from({ length: options.takers }, (_, i) => `PJSIP/taker${i + 1}`);
  log(`emulator at ${url} with ${options.takers} taker phones`);

  const { runStage, warmUp, measureIdle } = createStageRunner({ traffic, options, log });
  const siagaContext: SiagaContext = {
    services,
    options,
    ariUrl: url,
    password,
    recordingsDir,
    runId,
    endpoints,
    onCleanup: (step) => cleanups.push(step),
    log,
  };
  const startSiaga = (count: number, label: string) => startSiagaProcesses(siagaContext, count, label);
  /** A siaga112 stage, CPU-profiled on its own with --profile. */
  const siagaStage = async (siaga: SiagaRun, stage: string, plan: StagePlan, idle: Map<string, number>) => {
    await siaga.profile('start');
    try {
      return await runStage(stage, 'siaga112', plan, siaga.probes, siaga.watch, idle);
    } finally {
      await siaga.profile('stop', stage);
    }
  };

  const stages: StageReport[] = [];
  const steady = {
    steps: [{ rate: options.rate, durationMs: options.steadySeconds * 1000 }],
    stopWhenSaturated: false,
  };
  /** Geometric steps from `from` up to the ramp's top rate; the traffic stops at saturation. */
  const ramp = (from: number) => {
    const steps = [];
    for (
      let rate = from;
      rate <= options.rampMax;
      rate = Math.max(rate + 1, Math.round(rate * options.rampFactor))
    ) {
      steps.push({ rate, durationMs: options.rampStepSeconds * 1000 });
    }
    return { steps, stopWhenSaturated: true };
  };

  // A stage that fails (an overloaded emulator that never answers) ends the run, but what was
  // measured until then is still reported.
  let failure: string | null = null;
  try {
    if (options.stages.has('floor')) {
      const floor = forkChild<FloorApi, object>('floor', './floor-app-process.ts');
      cleanups.push(() => stopChild(floor, log));
      await floor.request('start', { url, username: ARI_USER, password, app: FLOOR_APP, endpoints });
      const probe: Probe = { label: 'floor', sample: (gc) => floor.request('sample', { gc }) };
      await warmUp('floor');
      const floorIdle = await measureIdle([probe], IDLE_MS);
      stages.push(await runStage('floor', 'floor', steady, [probe], null, floorIdle));
      await stopChild(floor, log);
    }
    if (['steady', 'hold', 'ramp', 'surge'].some((stage) => options.stages.has(stage as StageName))) {
      const siaga = await startSiaga(1, 'one');
      await warmUp('siaga112');
      const idle = await measureIdle(siaga.probes, IDLE_MS);
      if (options.stages.has('steady')) {
        stages.push(await siagaStage(siaga, 'steady', steady, idle));
      }
      if (options.stages.has('hold')) {
        // Memory per call: calls pile up at the steady rate, all held until memory is sampled.
        const quarter = { rate: options.rate, durationMs: (options.holdCalls / options.rate / 4) * 1000 };
        const hold = {
          steps: [quarter, quarter, quarter, quarter],
          stopWhenSaturated: false,
          holdMs: MEMORY_DELAY_MS + (options.quick ? 1000 : 4000),
        };
        stages.push(await siagaStage(siaga, 'hold', hold, idle));
      }
      if (options.stages.has('ramp')) {
        stages.push(await siagaStage(siaga, 'ramp', ramp(options.rampFrom), idle));
      }
      if (options.stages.has('surge')) {
        const surge = {
          steps: [
            { rate: options.rate, durationMs: options.quick ? 1000 : 5_000 },
            { rate: options.rate * options.surgeFactor, durationMs: options.surgeSeconds * 1000 },
            { rate: options.rate, durationMs: options.quick ? 2000 : 10_000 },
          ],
          stopWhenSaturated: false,
        };
        stages.push(await siagaStage(siaga, 'surge', surge, idle));
      }
      await siaga.stop();
    }
    if (options.stages.has('scaleout')) {
      const pair = await startSiaga(2, 'two');
      await warmUp('siaga112');
      const pairIdle = await measureIdle(pair.probes, IDLE_MS);
      stages.push(await siagaStage(pair, 'scaleout', steady, pairIdle));
      // Start the pair's ramp two steps below where one process saturated: the interesting part.
      if (!options.quick) {
        const single = stages.find((s) => s.stage === 'ramp');
        const saturatedAt =
          single?.steps.findIndex((step, i) => step.saturated && single.steps[i + 1]?.saturated) ?? -1;
        const from =
          single && saturatedAt >= 0 ? single.steps[Math.max(0, saturatedAt - 2)]!.rate : options.rampFrom;
        stages.push(await siagaStage(pair, 'scaleout-ramp', ramp(from), pairIdle));
      }
      await pair.stop();
    }
  } catch (error) {
    failure = error instanceof Error ? error.message : String(error);
    log(`stopped early: ${failure}`);
    process.exitCode = 1;
  }

  const targets = evaluateTargets(stages, options);
  process.stdout.write(`\nsiaga112 benchmark, ${describeMachine()}\n`);
  process.stdout.write(`\nThroughput and resources per step\n${throughputTable(stages)}\n`);
  process.stdout.write(`\nLatency, ms: p50 / p99 / max\n${latencyTable(stages)}\n`);
  process.stdout.write(`\nMemory per concurrent call\n${memoryTable(stages)}\n`);
  process.stdout.write(`\nWarnings and errors siaga112 logged\n${serviceLogTable(stages)}\n`);
  process.stdout.write(`\nTargets (issue #9)\n${targetsTable(targets)}\n`);
  if (failure) process.stdout.write(`\nThe run stopped early: ${failure}\n`);
  if (options.out) {
    await mkdir(dirname(options.out), { recursive: true });
    const meta = {
      ...sourceState(),
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
      node: process.version,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      loadAverageAtStart: load,
      note: 'a shared machine: other work ran meanwhile; figures are noisy',
      failure,
    };
    await writeFile(
      options.out,
      `${JSON.stringify({ meta, options: jsonOptions(options), stages, targets }, null, 2)}\n`,
    );
    process.stdout.write(`\nresults: ${options.out}\n`);
  }
}

function jsonOptions(o: BenchOptions) {
  return { ...o, stages: [...o.stages] };
}

try {
  await main();
} catch (error) {
  log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
} finally {
  await cleanUp();
}
