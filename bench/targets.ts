/** The targets of issue #9, judged from the stages run: what was reached, met or not. */
import type { BenchOptions } from './bench-options.ts';
import type { StageReport, StepReport } from './report.ts';

export interface TargetResult {
  readonly target: string;
  /** What the run reached, in words and numbers. */
  readonly reached: string;
  /** null: this run had no stage that measures it. */
  readonly met: boolean | null;
}

const noLoss = (step: StepReport) =>
  step.losses.lost === 0 && step.losses.doubleOffers === 0 && step.losses.unrecorded === 0;
/** The app kept up: (nearly) every caller of the step was bridged, nothing lost. */
const keptUp = (step: StepReport) => noLoss(step) && step.connectedPerSecond >= 0.95 * step.newCallsPerSecond;

export function evaluateTargets(stages: readonly StageReport[], options: BenchOptions): TargetResult[] {
  const single = stages.filter((s) => s.app === 'siaga112' && s.processes === 1);
  const steps = single.flatMap((s) => s.steps);
  const below = steps.filter((s) => !s.saturated);
  const results: TargetResult[] = [];

  const sustained = steps.filter(keptUp).sort((a, b) => b.newCallsPerSecond - a.newCallsPerSecond)[0];
  results.push({
    target: 'one process ≥ 200 new calls/s with 2,000 concurrent calls, nothing lost',
    reached: sustained
      ? `${sustained.newCallsPerSecond} calls/s kept up with, ${sustained.peakConcurrent} held at peak` +
        ` (arrival→offer p99 ${sustained.latencyMs.arrivalToOffer.p99} ms)`
      : 'no step kept up',
    met:
      steps.length === 0
        ? null
        : sustained !== undefined && sustained.newCallsPerSecond >= 196 && sustained.peakConcurrent >= 2000,
  });

  const worst = (pick: (s: StepReport) => number | null | undefined) => {
    const values = below.map(pick).filter((v): v is number => typeof v === 'number');
    return values.length > 0 ? Math.max(...values) : null;
  };
  const queueToOffer = worst((s) => s.latencyMs.queueToOffer?.p99);
  const arrivalToOffer = worst((s) => s.latencyMs.arrivalToOffer.p99);
  results.push({
    target: 'queue→offer p99 ≤ 5 ms below saturation',
    reached:
      queueToOffer === null
        ? 'not measured'
        : `worst step: ${queueToOffer} ms on the timeline (whole ms); arrival→originate at the emulator ${arrivalToOffer} ms`,
    met: queueToOffer === null ? null : queueToOffer <= 5,
  });
  const screening = worst((s) => s.latencyMs.screening?.p99);
  results.push({
    target: 'screening decision p99 ≤ 1 ms below saturation',
    reached: screening === null ? 'not measured' : `worst step: ${screening} ms on the timeline (whole ms)`,
    met: screening === null ? null : screening <= 1,
  });

  const at200 = steps.filter((s) => s.rate >= 200 && s.records);
  const lag = at200.length > 0 ? Math.max(...at200.map((s) => s.records?.lagMs.p99 ?? 0)) : null;
  results.push({
    target: 'record lag p99 ≤ 1 s at 200 calls/s',
    reached: lag === null ? 'no step at 200 calls/s' : `${Math.round(lag)} ms (steps offered ≥ 200/s)`,
    met: lag === null ? null : lag <= 1000,
  });

  // Memory is judged where calls were held together at a sustainable rate (the hold stage).
  const memory = (stages.find((s) => s.stage === 'hold') ?? single[0])?.memory[0];
  // Fewer calls than this make the per-call figure mostly noise (GC, pools, allocator).
  const judged = memory && memory.concurrentCalls - memory.fromCalls >= 200 ? memory : undefined;
  results.push({
    target: '≤ 30 KB resident memory per concurrent call',
    reached: memory
      ? `${memory.rssKbPerCall} KB RSS (${memory.heapKbPerCall} KB heap) per call, from ` +
        `${memory.fromCalls} to ${memory.concurrentCalls} held${judged ? '' : ' (too few to judge)'}`
      : 'not measured',
    met: judged ? (judged.rssKbPerCall ?? Infinity) <= 30 : null,
  });

  // Capacity: the highest ramp step kept up with below saturation, before the saturation point
  // (the first of two saturated steps in a row), one process against two.
  const capacity = (name: string) => {
    const steps = stages.find((s) => s.stage === name)?.steps ?? [];
    const point = steps.findIndex((step, i) => step.saturated && steps[i + 1]?.saturated);
    const rates = steps
      .slice(0, point >= 0 ? point : steps.length)
      .filter((step) => !step.saturated && keptUp(step))
      .map((step) => step.newCallsPerSecond);
    return rates.length > 0 ? Math.max(...rates) : null;
  };
  const one = capacity('ramp');
  const two = capacity('scaleout-ramp');
  const pairStages = stages.filter((s) => s.stage.startsWith('scaleout'));
  const doubles = pairStages.flatMap((s) => s.steps).reduce((n, step) => n + step.losses.doubleOffers, 0);
  const steadyTwo = stages.find((s) => s.stage === 'scaleout')?.steps[0];
  const steadyOne = stages.find((s) => s.stage === 'steady')?.steps[0];
  const steadyNote =
    steadyOne && steadyTwo
      ? `; at the steady ${options.rate}/s: ${steadyTwo.connectedPerSecond} vs ${steadyOne.connectedPerSecond} bridged/s`
      : '';
  results.push({
    target: 'two processes ≥ 1.7× one',
    reached:
      pairStages.length === 0
        ? 'not measured'
        : `${one && two ? `${(two / one).toFixed(2)}×` : '?'} (highest ramp step below saturation: two ` +
          `processes ${two ?? 'none'}, one ${one ?? 'none'} calls/s)${steadyNote}; ${doubles} calls offered twice`,
    met: one && two ? two / one >= 1.7 : null,
  });
  return results;
}

export function targetsTable(results: readonly TargetResult[]): string {
  const width = Math.max(...results.map((r) => r.target.length));
  return results
    .map((r) => `${r.met === null ? '  ?' : r.met ? 'met' : 'NOT'}  ${r.target.padEnd(width)}  ${r.reached}`)
    .join('\n');
}
