/**
 * Runs one stage of traffic against whatever app holds the events socket, sampling the processes
 * around it (start, each step's end, memory while calls are held, end), waiting for siaga112's
 * records, and turns it all into a StageReport.
 */
import type { StageRun, TrafficApi, TrafficNotices } from './bench-api.ts';
import type { BenchOptions } from './bench-options.ts';
import type { ChildClient } from './ipc.ts';
import { epochNow, type ProcessSample } from './process-probe.ts';
import type { RecordWatch, TimelineEntry } from './record-watch.ts';
import { memoryFigures, type ProcessTrace, type StageReport, stepReport } from './report.ts';

/** The Stasis app name of the floor (siaga112's is `siaga112`). */
export const FLOOR_APP = 'bench-floor';
/** Memory is sampled this long after the last arrival, while the calls are still held. */
export const MEMORY_DELAY_MS = 1000;
/**
 * After a stage, siaga112 gets this long to end its calls and commit their records, unless it
 * makes no progress for DRAIN_IDLE_MS; then records still arriving are awaited until none came
 * for RECORD_IDLE_MS.
 */
const RECORD_WAIT_MS = 60_000;
const DRAIN_IDLE_MS = 20_000;
const RECORD_IDLE_MS = 3_000;
/** Before a stage, processes go back to within this many points of their idle CPU (bounded). */
const SETTLE_MARGIN_PERCENT = 5;
const SETTLE_MAX_MS = 15_000;

/** One process under measurement, as the stage runner asks it. */
export interface Probe {
  readonly label: string;
  sample(gc: boolean): Promise<ProcessSample>;
  /** siaga112 processes: calls still handled, record updates not yet committed. */
  status?(): Promise<{ activeCalls: number; recordBacklog: number }>;
  /** siaga112 processes: warnings and errors logged since the last ask. */
  logCounts?(): Promise<Record<string, number>>;
}

/** A stage's traffic; `holdMs`: takers keep every call until memory is sampled (see StageRun). */
export type StagePlan = Pick<StageRun, 'steps' | 'stopWhenSaturated'> & { holdMs?: number };

export interface StageRunnerContext {
  readonly traffic: ChildClient<TrafficApi, TrafficNotices>;
  readonly options: BenchOptions;
  log(message: string): void;
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function createStageRunner(context: StageRunnerContext) {
  const { traffic, options, log } = context;

  /** Runs one stage against whatever app is listening, sampling `probes` around it. */
  async function runStage(
    stage: string,
    app: StageReport['app'],
    run: StagePlan,
    probes: Probe[],
    watch: RecordWatch | null,
    idleCpuPercent: ReadonlyMap<string, number> = new Map(),
  ): Promise<StageReport> {
    const rates = run.steps.map((s) => s.rate).join(',');
    log(`${stage} (${app}, ${probes.length} process${probes.length > 1 ? 'es' : ''}): ${rates} calls/s`);
    await settle(probes, idleCpuPercent);
    const rowsBefore = watch ? await watch.rowCounts() : null;
    const stageStart = epochNow();
    const start = await Promise.all(probes.map((p) => p.sample(true)));
    const boundaries: Promise<ProcessSample[]>[] = [];
    let memory: Promise<{ samples: ProcessSample[]; live: number }> | undefined;
    const boundaryLive: number[] = [];
    const off = traffic.on('boundary', ({ step, last, live }) => {
      boundaryLive[step] = live;
      // Holding calls for memory, every step's end is a memory sample (after a forced GC).
      const samples = Promise.all(probes.map((p) => p.sample(run.holdMs !== undefined)));
      boundaries[step] = samples;
      if (!last) return;
      memory = samples.then(async () => {
        await delay(MEMORY_DELAY_MS);
        const { live } = await traffic.request('live', {});
        return { samples: await Promise.all(probes.map((p) => p.sample(true))), live };
      });
    });
    const arrivalsMs = run.steps.reduce((total, s) => total + s.durationMs, 0);
    const drainTimeoutMs = options.patienceMs + options.talkMs + 30_000;
    const result = await traffic.request(
      'run',
      {
        stage,
        app: app === 'floor' ? FLOOR_APP : 'siaga112',
        steps: run.steps,
        patienceMs: options.patienceMs,
        saturationMs: options.saturationMs,
        stopWhenSaturated: run.stopWhenSaturated,
        evaluateAfterMs: 2000,
        drainTimeoutMs,
        holdMs: run.holdMs ?? null,
      },
      // The emulator answers once the calls have ended: under overload its own loop runs late too.
      arrivalsMs + (run.holdMs ?? 0) + drainTimeoutMs + 180_000,
    );
    off();
    const boundarySamples = await Promise.all(boundaries);
    const memorySamples = await memory;
    const channelIds = result.steps.flatMap((s) => s.callerChannelIds);
    let unrecorded = new Map<string, 'no row' | 'not ended'>();
    let timeline: Map<string, TimelineEntry[]> | null = null;
    let backlogDrainedMs: number | null = null;
    let backlogLeft = 0;
    if (watch) {
      // A record still queued is late, not lost: wait until the service has ended every call and
      // written every update (bounded), then look for calls without a record.
      const drainStart = performance.now();
      let progressAt = drainStart;
      let left = Infinity;
      while (
        performance.now() - drainStart < RECORD_WAIT_MS &&
        performance.now() - progressAt < DRAIN_IDLE_MS
      ) {
        const statuses = await Promise.all(probes.map((p) => p.status?.()));
        const now = statuses.reduce((n, st) => n + (st ? st.activeCalls + st.recordBacklog : 0), 0);
        if (now === 0) {
          backlogDrainedMs = Math.round(performance.now() - drainStart);
          break;
        }
        if (now < left) progressAt = performance.now();
        left = now;
        await delay(500);
      }
      if (backlogDrainedMs === null) {
        backlogLeft = left;
        log(`  siaga112 still holds calls or record updates: ${left} left`);
      }
      const missing = await watch.waitFor(channelIds, RECORD_IDLE_MS, RECORD_WAIT_MS);
      if (missing.length > 0) unrecorded = await watch.unrecorded(missing);
      timeline = new Map();
      for (const entry of await watch.timeline(channelIds)) {
        const entries = timeline.get(entry.channelId) ?? [];
        entries.push(entry);
        timeline.set(entry.channelId, entries);
      }
    }
    const end = await Promise.all(probes.map((p) => p.sample(false)));
    const stageEnd = epochNow();
    const serviceLog: Record<string, number> = {};
    const logs = await Promise.all(probes.map((p) => p.logCounts?.() ?? Promise.resolve({})));
    for (const counts of logs as Record<string, number>[]) {
      for (const [key, n] of Object.entries(counts)) serviceLog[key] = (serviceLog[key] ?? 0) + n;
    }
    let rowWritesPerSecond: number | null = null;
    if (watch && rowsBefore) {
      await delay(1200); // table statistics reach pg_stat_user_tables about a second late
      const after = await watch.rowCounts();
      const rows =
        after.callInserts -
        rowsBefore.callInserts +
        after.callUpdates -
        rowsBefore.callUpdates +
        after.eventInserts -
        rowsBefore.eventInserts;
      rowWritesPerSecond = Math.round(rows / ((stageEnd - stageStart) / 1000));
    }
    const traces: ProcessTrace[] = probes.map((probe, i) => ({
      label: probe.label,
      start: start[i]!,
      boundaries: boundarySamples.map((samples) => samples[i]!),
      memory: memorySamples?.samples[i],
      end: end[i]!,
    }));
    const report: StageReport = {
      stage,
      app,
      processes: probes.length,
      steps: result.steps.map((traffic, index) =>
        stepReport({
          traffic,
          index,
          processes: traces,
          wholeStage: result.steps.length === 1,
          idleCpuPercent,
          committed: watch?.committed ?? null,
          holdMs: options.answerDelayMs + options.talkMs,
          unrecorded,
          timeline,
        }),
      ),
      memory: traces.map((trace) =>
        // Held calls: every step's end was sampled after a GC; the slope from the first quarter on
        // cancels what earlier stages left behind.
        run.holdMs !== undefined
          ? memoryFigures(trace.label, [
              ...trace.boundaries.map((sample, i) => ({ sample, calls: boundaryLive[i] ?? 0 })),
              { sample: trace.memory, calls: memorySamples?.live ?? 0 },
            ])
          : memoryFigures(trace.label, [
              { sample: trace.start, calls: 0 },
              { sample: trace.memory, calls: memorySamples?.live ?? 0 },
            ]),
      ),
      rowWritesPerSecond,
      drained: result.drained,
      backlogDrainedMs,
      backlogLeft,
      idleCpuPercent: Object.fromEntries(idleCpuPercent),
      serviceLog,
    };
    for (const [index, step] of report.steps.entries()) {
      const offer = step.latencyMs.arrivalToOffer;
      log(
        `  step ${index + 1}: ${step.placed} calls at ${step.rate}/s, peak ${step.peakConcurrent} held, ` +
          `arrival→offer p99 ${offer.p99} ms${step.saturated ? ', saturated' : ''}`,
      );
    }
    return report;
  }

  /** Unreported calls at the steady rate, so the app under test is warm; waits for them to end. */
  async function warmUp(app: StageReport['app']): Promise<void> {
    if (options.warmupSeconds <= 0) return;
    log(`warming up ${app} for ${options.warmupSeconds} s`);
    const drainTimeoutMs = options.patienceMs + options.talkMs + 30_000;
    await traffic.request(
      'run',
      {
        stage: 'warmup',
        app: app === 'floor' ? FLOOR_APP : 'siaga112',
        steps: [{ rate: options.rate, durationMs: options.warmupSeconds * 1000 }],
        patienceMs: options.patienceMs,
        saturationMs: options.saturationMs,
        stopWhenSaturated: false,
        evaluateAfterMs: 2000,
        drainTimeoutMs,
        holdMs: null,
      },
      options.warmupSeconds * 1000 + drainTimeoutMs + 60_000,
    );
    await delay(2000); // the last records land
  }

  /**
   * Waits (at most SETTLE_MAX_MS) until every process is back near its idle CPU for two seconds
   * in a row: work left from the previous stage (recordings being kept, retries) must not be
   * measured as this stage's.
   */
  async function settle(probes: readonly Probe[], idle: ReadonlyMap<string, number>): Promise<void> {
    if (idle.size === 0) return;
    const started = performance.now();
    let quiet = 0;
    let previous = await Promise.all(probes.map((p) => p.sample(false)));
    while (quiet < 2 && performance.now() - started < SETTLE_MAX_MS) {
      await delay(1000);
      const now = await Promise.all(probes.map((p) => p.sample(false)));
      const calm = probes.every((probe, i) => {
        const busy = (now[i]!.cpuUs - previous[i]!.cpuUs) / 10 / (now[i]!.at - previous[i]!.at);
        return busy <= (idle.get(probe.label) ?? 0) + SETTLE_MARGIN_PERCENT;
      });
      quiet = calm ? quiet + 1 : 0;
      previous = now;
    }
    if (quiet < 2) log(`  still busy after ${SETTLE_MAX_MS / 1000} s; starting anyway`);
  }

  /** Each process's CPU use with no calls at all, % of a core, over `ms` (after as long a pause). */
  async function measureIdle(probes: readonly Probe[], ms: number): Promise<Map<string, number>> {
    // The warm-up's last calls leave work behind (records, recordings being kept, retries).
    await delay(ms);
    const before = await Promise.all(probes.map((p) => p.sample(false)));
    await delay(ms);
    const after = await Promise.all(probes.map((p) => p.sample(false)));
    const idle = new Map<string, number>();
    probes.forEach((probe, i) => {
      const cpuUs = after[i]!.cpuUs - before[i]!.cpuUs;
      idle.set(probe.label, Math.round((cpuUs / 10 / (after[i]!.at - before[i]!.at)) * 10) / 10);
    });
    log(`  idle CPU: ${[...idle].map(([label, pct]) => `${label} ${pct}%`).join(', ')}`);
    return idle;
  }

  return { runStage, warmUp, measureIdle };
}
