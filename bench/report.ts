/**
 * Turns what the emulator, the processes and the database saw into per-step figures (pure), and
 * prints them as tables.
 */

import type { StepTraffic } from './bench-api.ts';
import type { ProcessSample } from './process-probe.ts';
import type { CommittedRecord, TimelineEntry } from './record-watch.ts';
import { type Distribution, distribution } from './stats.ts';

export interface ProcessFigures {
  readonly label: string;
  /** CPU time per new call of the step, ms (single-step stages: until every record is in). */
  readonly cpuMsPerCall: number | null;
  /** The same, less what the process burns idle (timers, polling) over that time. */
  readonly cpuMsPerCallNet: number | null;
  /** Share of one core used during the step's arrivals. */
  readonly cpuPercent: number | null;
  readonly loopDelayP99Ms: number | null;
  readonly loopDelayMaxMs: number | null;
}

export interface MemoryFigures {
  readonly label: string;
  /** Calls alive when memory was sampled (after a forced GC, a second after the last arrival). */
  readonly concurrentCalls: number;
  /** Calls alive at the first sample compared (0: the stage's start; hold stage: a quarter in). */
  readonly fromCalls: number;
  /** How many samples the slope is fitted to. */
  readonly samples: number;
  readonly rssKbPerCall: number | null;
  readonly heapKbPerCall: number | null;
}

export interface StepReport {
  readonly rate: number;
  readonly seconds: number;
  readonly placed: number;
  readonly newCallsPerSecond: number;
  /** Callers bridged to a taker, per second of arrivals. */
  readonly connectedPerSecond: number;
  readonly peakConcurrent: number;
  readonly minIdleTakers: number;
  readonly latencyMs: {
    /** Caller's StasisStart sent → answer request received (emulator clock). */
    readonly answer: Distribution;
    /** Caller's StasisStart sent → originate to a taker received (emulator clock). */
    readonly arrivalToOffer: Distribution;
    /** Taker leg's StasisStart sent → both legs in one bridge (emulator clock). */
    readonly takerAnswerToBridged: Distribution;
    /** `screened` − `arrived` on the call's timeline (service clock, whole ms). */
    readonly screening: Distribution | null;
    /** First `offered` − `screened` on the timeline: queue entry → offer (whole ms). */
    readonly queueToOffer: Distribution | null;
  };
  readonly records: {
    /**
     * Final call rows committed per second (any call's), over the step's window shifted by one
     * call's holding time: in a steady state, the rate records of ending calls flow in.
     */
    readonly perSecond: number | null;
    /** `ended_at` → the committed row announced (NOTIFY at commit). */
    readonly lagMs: Distribution;
  } | null;
  readonly losses: {
    /** Callers never bridged although a taker was free, or never handled by siaga112 at all. */
    readonly lost: number;
    /** Of the lost: found no app on the events socket and took the dialplan fallback. */
    readonly fallback: number;
    readonly doubleOffers: number;
    /** Calls with no ended record in calls after the stage (fallback calls included). */
    readonly unrecorded: number;
    /** Of those, calls with no row at all. */
    readonly unrecordedNoRow: number;
    /** Callers who gave up while every taker was busy (not a loss of the app's). */
    readonly abandoned: number;
  };
  readonly saturated: boolean;
  readonly processes: ProcessFigures[];
  readonly emulatorCpuPercent: number;
}

export interface StageReport {
  /** A stage of the run: floor, steady, ramp, surge, scaleout, scaleout-ramp. */
  readonly stage: string;
  readonly app: 'siaga112' | 'floor';
  readonly processes: number;
  readonly steps: StepReport[];
  readonly memory: MemoryFigures[];
  /** Rows inserted or updated in calls and call_events per second, over the whole stage. */
  readonly rowWritesPerSecond: number | null;
  /** Every call of the stage had ended before the drain timeout. */
  readonly drained: boolean;
  /** After the last call ended, how long until siaga112 had no call and no record update left. */
  readonly backlogDrainedMs: number | null;
  /** When it never got there: calls and record updates siaga112 still held (records late, maybe lost). */
  readonly backlogLeft: number;
  /** Each process's CPU use with no calls (% of a core), measured after the warm-up. */
  readonly idleCpuPercent: Record<string, number>;
  /** Warnings and errors siaga112 logged during the stage, by level and message. */
  readonly serviceLog: Record<string, number>;
}

/** Samples of one process: at the stage's start, at each step's end, before memory, at the end. */
export interface ProcessTrace {
  readonly label: string;
  readonly start: ProcessSample;
  readonly boundaries: ProcessSample[];
  readonly memory: ProcessSample | undefined;
  readonly end: ProcessSample;
}

export interface StepInputs {
  readonly traffic: StepTraffic;
  readonly processes: readonly ProcessTrace[];
  /** The stage has one step: its CPU is counted to the end (calls ending, records written). */
  readonly wholeStage: boolean;
  /** Each process's CPU use with no calls, % of a core, by label (measured after the warm-up). */
  readonly idleCpuPercent: ReadonlyMap<string, number>;
  readonly index: number;
  readonly committed: ReadonlyMap<string, CommittedRecord> | null;
  /** How long a connected call holds (taker's answer delay + talk time), ms. */
  readonly holdMs: number;
  /** Calls with no ended record after the stage: no row at all, or a row that never ended. */
  readonly unrecorded: ReadonlyMap<string, 'no row' | 'not ended'>;
  readonly timeline: ReadonlyMap<string, TimelineEntry[]> | null;
}

const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

export function stepReport(inputs: StepInputs): StepReport {
  const { traffic, index } = inputs;
  const seconds = (traffic.endedAt - traffic.startedAt) / 1000;
  const processes = inputs.processes.map((trace): ProcessFigures => {
    const from = index === 0 ? trace.start : trace.boundaries[index - 1]!;
    const to = inputs.wholeStage ? trace.end : trace.boundaries[index]!;
    const arrivalsEnd = trace.boundaries[index]!;
    return {
      label: trace.label,
      cpuMsPerCall: traffic.placed > 0 ? round((to.cpuUs - from.cpuUs) / 1000 / traffic.placed, 3) : null,
      cpuMsPerCallNet:
        traffic.placed > 0
          ? round(
              ((to.cpuUs - from.cpuUs) / 1000 -
                ((inputs.idleCpuPercent.get(trace.label) ?? 0) / 100) * (to.at - from.at)) /
                traffic.placed,
              3,
            )
          : null,
      // Samples answered late by a blocked process can fall close together: no figure then.
      cpuPercent:
        arrivalsEnd.at - from.at >= 1000
          ? round((arrivalsEnd.cpuUs - from.cpuUs) / 10 / (arrivalsEnd.at - from.at), 1)
          : null,
      loopDelayP99Ms: arrivalsEnd.loopDelay?.p99 ?? null,
      loopDelayMaxMs: arrivalsEnd.loopDelay?.max ?? null,
    };
  });
  let screening: number[] | null = null;
  let queueToOffer: number[] | null = null;
  if (inputs.timeline) {
    screening = [];
    queueToOffer = [];
    for (const channelId of traffic.callerChannelIds) {
      const events = inputs.timeline.get(channelId) ?? [];
      const arrived = events.find((e) => e.type === 'arrived');
      const screened = events.find((e) => e.type === 'screened');
      const offered = events.find((e) => e.type === 'offered');
      if (arrived && screened) screening.push(screened.at - arrived.at);
      if (screened && offered) queueToOffer.push(offered.at - screened.at);
    }
  }
  let records: StepReport['records'] = null;
  if (inputs.committed) {
    const lags: number[] = [];
    for (const channelId of traffic.callerChannelIds) {
      const record = inputs.committed.get(channelId);
      if (record) lags.push(record.seenAt - record.endedAt);
    }
    const from = traffic.startedAt + inputs.holdMs;
    const to = traffic.endedAt + inputs.holdMs;
    let inWindow = 0;
    for (const record of inputs.committed.values())
      if (record.seenAt >= from && record.seenAt < to) inWindow += 1;
    records = { perSecond: round(inWindow / seconds, 1), lagMs: distribution(lags) };
  }
  return {
    rate: traffic.rate,
    seconds: round(seconds, 1),
    placed: traffic.placed,
    newCallsPerSecond: round(traffic.placed / seconds, 1),
    connectedPerSecond: round(traffic.bridged / seconds, 1),
    peakConcurrent: traffic.peakLive,
    minIdleTakers: traffic.minIdleTakers,
    latencyMs: {
      answer: distribution(traffic.answerMs),
      arrivalToOffer: distribution(traffic.offerMs),
      takerAnswerToBridged: distribution(traffic.bridgeMs),
      screening: screening ? distribution(screening) : null,
      queueToOffer: queueToOffer ? distribution(queueToOffer) : null,
    },
    records,
    losses: {
      lost: traffic.lost.length,
      fallback: traffic.fallback,
      doubleOffers: traffic.doubleOffers,
      unrecorded: traffic.callerChannelIds.filter((id) => inputs.unrecorded.has(id)).length,
      unrecordedNoRow: traffic.callerChannelIds.filter((id) => inputs.unrecorded.get(id) === 'no row').length,
      abandoned: traffic.abandoned,
    },
    saturated:
      traffic.saturated ||
      traffic.lost.length > 0 ||
      traffic.callerChannelIds.some((id) => inputs.unrecorded.has(id)),
    processes,
    emulatorCpuPercent: round(traffic.emulatorCpuUs / 10 / (traffic.endedAt - traffic.startedAt), 1),
  };
}

/**
 * Memory per call: the least-squares slope of memory against calls held, over samples taken after
 * a forced GC (a stage's start with none held and its end; the hold stage: every quarter).
 */
export function memoryFigures(
  label: string,
  points: readonly { sample: ProcessSample | undefined; calls: number }[],
): MemoryFigures {
  const taken = points.filter((p): p is { sample: ProcessSample; calls: number } => p.sample !== undefined);
  const slope = (bytes: (sample: ProcessSample) => number): number | null => {
    if (taken.length < 2) return null;
    const meanX = taken.reduce((a, p) => a + p.calls, 0) / taken.length;
    const meanY = taken.reduce((a, p) => a + bytes(p.sample), 0) / taken.length;
    let num = 0;
    let den = 0;
    for (const p of taken) {
      num += (p.calls - meanX) * (bytes(p.sample) - meanY);
      den += (p.calls - meanX) ** 2;
    }
    return den > 0 ? round(num / den / 1024, 1) : null;
  };
  return {
    label,
    concurrentCalls: points.at(-1)?.calls ?? 0,
    fromCalls: points[0]?.calls ?? 0,
    samples: taken.length,
    rssKbPerCall: slope((sample) => sample.rssBytes),
    heapKbPerCall: slope((sample) => sample.heapUsedBytes),
  };
}

// ---------------------------------------------------------------------------------------------
// Tables

const cell = (value: number | null | undefined, digits = 1) =>
  value === null || value === undefined ? '–' : Number.isFinite(value) ? value.toFixed(digits) : '∞';
const pair = (d: Distribution | null, digits = 1) =>
  d ? `${cell(d.p50, digits)} / ${cell(d.p99, digits)} / ${cell(d.max, digits)}` : '–';

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const stepName = (stage: StageReport, index: number) =>
  `${stage.stage}${stage.processes > 1 ? `×${stage.processes}` : ''}${stage.steps.length > 1 ? `#${index + 1}` : ''}`;

/** Throughput, losses and resources per step. */
export function throughputTable(stages: readonly StageReport[]): string {
  const rows = stages.flatMap((stage) =>
    stage.steps.map((step, index) => {
      const cpu = step.processes.map((p) => cell(p.cpuMsPerCallNet, 2)).join('+');
      const busy = step.processes.map((p) => cell(p.cpuPercent, 0)).join('+');
      const loop = step.processes.map((p) => cell(p.loopDelayP99Ms, 1)).join('+');
      const { lost, fallback, doubleOffers, unrecorded, abandoned } = step.losses;
      return [
        stepName(stage, index),
        stage.app,
        cell(step.rate, 0),
        cell(step.newCallsPerSecond),
        cell(step.connectedPerSecond),
        String(step.peakConcurrent),
        cell(step.records?.perSecond),
        step.records ? cell(step.records.lagMs.p99, 0) : '–',
        cpu,
        busy,
        cell(step.emulatorCpuPercent, 0),
        loop,
        `${lost}${fallback > 0 ? ` (${fallback} fb)` : ''}/${doubleOffers}/${unrecorded}/${abandoned}`,
        step.saturated ? 'yes' : '',
      ];
    }),
  );
  return table(
    [
      'step',
      'app',
      'offered/s',
      'new/s',
      'bridged/s',
      'peak calls',
      'records/s',
      'rec lag p99 ms',
      'CPU ms/call (net)',
      'CPU %',
      'emu CPU %',
      'loop p99 ms',
      'lost/double/unrec/aband',
      'saturated',
    ],
    rows,
  );
}

/** Latencies per step, p50 / p99 / max in ms. */
export function latencyTable(stages: readonly StageReport[]): string {
  const rows = stages.flatMap((stage) =>
    stage.steps.map((step, index) => [
      stepName(stage, index),
      cell(step.rate, 0),
      pair(step.latencyMs.answer, 2),
      pair(step.latencyMs.arrivalToOffer, 2),
      pair(step.latencyMs.takerAnswerToBridged, 2),
      pair(step.latencyMs.screening, 0),
      pair(step.latencyMs.queueToOffer, 0),
    ]),
  );
  return table(
    [
      'step',
      'offered/s',
      'StasisStart→answer',
      'StasisStart→originate',
      'taker answer→bridged',
      'screening (timeline)',
      'queue→offer (timeline)',
    ],
    rows,
  );
}

/** Memory per concurrent call per process. */
export function memoryTable(stages: readonly StageReport[]): string {
  const rows = stages.flatMap((stage) =>
    stage.memory.map((m) => [
      `${stage.stage}${stage.processes > 1 ? `×${stage.processes}` : ''}`,
      m.label,
      `${m.fromCalls} → ${m.concurrentCalls}`,
      cell(m.rssKbPerCall),
      cell(m.heapKbPerCall),
    ]),
  );
  return table(['stage', 'process', 'calls held', 'RSS KB/call', 'heap KB/call'], rows);
}

/** What siaga112 warned about or failed at, per stage (the saturation's symptoms). */
export function serviceLogTable(stages: readonly StageReport[]): string {
  const lines = stages.flatMap((stage) =>
    Object.entries(stage.serviceLog)
      .sort((a, b) => b[1] - a[1])
      .map(([message, n]) => `${stage.stage.padEnd(14)} ${String(n).padStart(7)}  ${message}`),
  );
  return lines.length > 0 ? lines.join('\n') : 'none';
}
