/** The benchmark's flags, parsed once; `--quick` gives a run of under two minutes. */
import { parseArgs } from 'node:util';

export const STAGES = ['floor', 'steady', 'hold', 'ramp', 'surge', 'scaleout'] as const;
export type StageName = (typeof STAGES)[number];

export interface BenchOptions {
  readonly quick: boolean;
  readonly stages: ReadonlySet<StageName>;
  /** Steady stage (also the floor's and scale-out's): new calls per second, seconds. */
  readonly rate: number;
  readonly steadySeconds: number;
  /** Memory: this many calls placed at the steady rate and all held at once. */
  readonly holdCalls: number;
  /** Unreported calls at the steady rate before an app's first stage (JIT, pools, caches warm). */
  readonly warmupSeconds: number;
  /** Ramp: from `rampFrom` calls/s, × `rampFactor` every `rampStepSeconds`, at most `rampMax`. */
  readonly rampFrom: number;
  readonly rampFactor: number;
  readonly rampStepSeconds: number;
  readonly rampMax: number;
  /** Surge: `surgeFactor` × rate for `surgeSeconds`, between a short lead and tail at the rate. */
  readonly surgeFactor: number;
  readonly surgeSeconds: number;
  /** Taker phones: answer after this, talk this long (holding the call), then hang up. */
  readonly answerDelayMs: number;
  readonly talkMs: number;
  readonly takers: number;
  readonly patienceMs: number;
  readonly greetingMs: number;
  /** Arrival → offer p99 above this, or any loss: saturated. */
  readonly saturationMs: number;
  readonly trunks: readonly string[];
  /** Write the siaga112 processes' CPU profiles of the measured stages into this directory. */
  readonly profileDir: string | null;
  /** The siaga112 processes' log level (their logs go to stderr). */
  readonly serviceLogLevel: string;
  /** Where the JSON results go; null: not written. */
  readonly out: string | null;
}

const HELP = `npm run bench [-- options]

  --quick                 under two minutes: short stages, 2 s talk time, no two-process ramp
  --stages LIST           of ${STAGES.join(',')} (default: all)
  --rate N                steady new calls per second (default 20)
  --steady S              seconds of the steady stages (default 25; quick 5)
  --hold N                memory: N calls placed at the rate and held together (default 400; quick 60)
  --warmup S              unreported calls before each app's first stage (default 5; quick 1)
  --ramp-from N --ramp-factor F --ramp-step-seconds S --ramp-max N
                          ramp to saturation: from N calls/s (default: half the rate), × F (1.25) every
                          S seconds (8; quick 2) up to N (400; quick 200); it stops after two
                          saturated steps in a row
  --surge-factor F        surge = F × rate (default 10)
  --surge S               seconds of the surge (default 60; quick 3)
  --talk S                talk time per call, seconds (default 10; quick 2)
  --answer-delay MS       taker phones answer after (default 300)
  --takers N              taker phones (default: enough for the ramp's top rate and the surge)
  --patience S            an unconnected caller hangs up after (default 30; quick 5)
  --profile DIR           CPU profiles (V8, as --cpu-prof) of the siaga112 processes' measured stages
  --service-log LEVEL     also print the siaga112 processes' log lines from LEVEL on stderr (default: none;
                          warnings and errors are counted in the report either way)
  --out FILE              results JSON (default bench/results/<date>.json); --no-out: none
`;

export function parseBenchOptions(argv: readonly string[]): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean', default: false },
      stages: { type: 'string' },
      rate: { type: 'string' },
      steady: { type: 'string' },
      warmup: { type: 'string' },
      hold: { type: 'string' },
      'ramp-from': { type: 'string' },
      'ramp-factor': { type: 'string' },
      'ramp-step-seconds': { type: 'string' },
      'ramp-max': { type: 'string' },
      'surge-factor': { type: 'string' },
      surge: { type: 'string' },
      talk: { type: 'string' },
      'answer-delay': { type: 'string' },
      takers: { type: 'string' },
      patience: { type: 'string' },
      profile: { type: 'string' },
      out: { type: 'string' },
      'service-log': { type: 'string', default: 'silent' },
      'no-out': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const quick = values.quick;
  const number = (name: string, raw: string | undefined, fallback: number, min = 0): number => {
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min) throw new Error(`--${name}: expected a number ≥ ${min}`);
    return value;
  };
  const stages = new Set<StageName>();
  for (const name of (values.stages ?? STAGES.join(',')).split(',')) {
    const stage = STAGES.find((s) => s === name.trim());
    if (!stage) throw new Error(`--stages: unknown stage ${JSON.stringify(name)} (${STAGES.join(', ')})`);
    stages.add(stage);
  }
  const rate = number('rate', values.rate, 20, 1);
  const rampFrom = number('ramp-from', values['ramp-from'], Math.max(1, Math.round(rate / 2)), 1);
  const rampFactor = number('ramp-factor', values['ramp-factor'], 1.25, 1.01);
  const rampMax = number('ramp-max', values['ramp-max'], quick ? 200 : 400, rampFrom);
  const surgeFactor = number('surge-factor', values['surge-factor'], 10, 1);
  const answerDelayMs = number('answer-delay', values['answer-delay'], 300);
  const talkMs = number('talk', values.talk, quick ? 2 : 10, 0.1) * 1000;
  // Every call holds a taker for its answer delay plus talk time: enough takers for the busiest step.
  const busiest = Math.max(rampMax, rate * surgeFactor);
  const takers = number(
    'takers',
    values.takers,
    Math.ceil((busiest * (answerDelayMs + talkMs + 500)) / 1000 / 100) * 100,
    1,
  );
  const today = new Date().toISOString().slice(0, 10);
  return Object.freeze({
    quick,
    stages,
    rate,
    steadySeconds: number('steady', values.steady, quick ? 5 : 25, 1),
    holdCalls: number('hold', values.hold, quick ? 60 : 400, 1),
    warmupSeconds: number('warmup', values.warmup, quick ? 1 : 5),
    rampFrom,
    rampFactor,
    rampStepSeconds: number('ramp-step-seconds', values['ramp-step-seconds'], quick ? 2 : 8, 1),
    rampMax,
    surgeFactor,
    surgeSeconds: number('surge', values.surge, quick ? 3 : 60, 1),
    answerDelayMs,
    talkMs,
    takers,
    patienceMs: number('patience', values.patience, quick ? 5 : 30, 1) * 1000,
    greetingMs: 3000,
    saturationMs: 50,
    // Calls reach a 112 centre over each operator's trunk.
    trunks: ['telkomsel', 'indosat', 'xl', 'smartfren', 'tri'],
    profileDir: values.profile ?? null,
    serviceLogLevel: values['service-log'],
    out: values['no-out'] ? null : (values.out ?? `bench/results/${today}${quick ? '-quick' : ''}.json`),
  });
}
