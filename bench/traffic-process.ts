/**
 * The Asterisk emulator in its own process (as Asterisk is), generating the benchmark's traffic
 * and timing the app under test on the emulator's clock: when each StasisStart left, when the
 * answer and originate requests arrived, when both legs were in one bridge. Callers are clean
 * (every number new), speak once answered, and wait `patienceMs` for a person; taker phones
 * answer after a short delay and hang up after a talk time, so concurrent calls build up.
 */
import type {
  AsteriskEmulator,
  ChannelCreatedObservation,
  ChannelDestroyedObservation,
  EventObservation,
  RequestObservation,
} from '../src/emulator/asterisk-emulator.ts';
import { startAsteriskEmulator } from '../src/emulator/asterisk-emulator.ts';
import type {
  StageRun,
  StageTraffic,
  StepTraffic,
  TrafficApi,
  TrafficNotices,
  TrafficSetup,
} from './bench-api.ts';
import { notify, serve } from './ipc.ts';
import { createProcessProbe, epochNow } from './process-probe.ts';
import { percentile } from './stats.ts';

/** How often due calls are placed; arrivals are paced against the step's start, not the timer. */
const PACE_MS = 5;
const SAMPLE_MS = 250;
/** A taker idle this long while a caller gave up means the app failed to offer (a loss). */
const IDLE_TAKER_MS = 1000;
/** Caller numbers: 0812 + 8 digits, unique for the whole run (screening sees every caller new). */
const FIRST_NUMBER = 10_000_000;

interface Trace {
  readonly step: number;
  channelId: string;
  stasisStartAt: number | undefined;
  answerAt: number | undefined;
  offers: number;
  offerAt: number | undefined;
  takerChannelId: string | undefined;
  takerAnsweredAt: number | undefined;
  callerBridge: string | undefined;
  takerBridge: string | undefined;
  bridgedAt: number | undefined;
  ended: boolean;
  outcome: 'lost' | 'abandoned' | undefined;
  fallback: boolean;
}

interface StepState {
  readonly rate: number;
  readonly startedAt: number;
  endedAt: number;
  readonly traces: Trace[];
  peakLive: number;
  minIdleTakers: number;
  cpuAtStart: number;
  cpuUs: number;
  saturated: boolean;
}

const probe = createProcessProbe();
const cpuNow = () => {
  const cpu = process.cpuUsage();
  return cpu.user + cpu.system;
};
/** Last 8 digits: the key of a caller's number however the app formats it (0812…, +62812…). */
const numberKey = (number: string) => number.slice(-8);
const endpointOf = (channelName: string) => channelName.slice(0, channelName.lastIndexOf('-'));

let emulator: AsteriskEmulator | undefined;
let setup: TrafficSetup | undefined;
let nextNumber = FIRST_NUMBER;
let live = 0;
/** Taker endpoint → when it became idle (absent: a call is on it). */
const idleSince = new Map<string, number>();
const takerLegEndpoint = new Map<string, string>();
/** Calls of the stage running now, by caller channel, by number key, by taker channel. */
const byChannel = new Map<string, Trace>();
const byKey = new Map<string, Trace>();
const byTakerLeg = new Map<string, Trace>();
let steps: StepState[] = [];

function onChannelCreated({ channel, kind, at }: ChannelCreatedObservation): void {
  if (kind === 'inbound') {
    const trace = byKey.get(numberKey(channel.caller.number));
    if (trace) {
      trace.channelId = channel.id;
      byChannel.set(channel.id, trace);
    }
    return;
  }
  if (kind !== 'originated') return;
  const endpoint = endpointOf(channel.name);
  takerLegEndpoint.set(channel.id, endpoint);
  idleSince.delete(endpoint);
  const trace = byKey.get(numberKey(channel.caller.number));
  if (!trace) return;
  trace.offers += 1;
  if (trace.offers === 1) {
    trace.offerAt = at;
    trace.takerChannelId = channel.id;
    byTakerLeg.set(channel.id, trace);
  }
}

function onRequest(request: RequestObservation): void {
  if (request.operation === 'channels.answer') {
    const trace = byChannel.get(request.path.split('/')[3] ?? '');
    if (trace && trace.answerAt === undefined) trace.answerAt = request.receivedAt;
  } else if (request.operation === 'channels.originateWithId') {
    // The originate's own arrival, a little before the channel it creates.
    const trace = byTakerLeg.get(request.path.split('/')[3] ?? '');
    if (trace && trace.offers === 1) trace.offerAt = request.receivedAt;
  }
}

function onEvent({ event, sentAt }: EventObservation): void {
  const channelId = (event.channel as { id?: string } | undefined)?.id;
  if (channelId === undefined) return;
  if (event.type === 'StasisStart') {
    const caller = byChannel.get(channelId);
    if (caller && caller.stasisStartAt === undefined) caller.stasisStartAt = sentAt;
    const taker = byTakerLeg.get(channelId);
    if (taker && taker.takerAnsweredAt === undefined) taker.takerAnsweredAt = sentAt;
  } else if (event.type === 'ChannelEnteredBridge') {
    const bridgeId = (event.bridge as { id: string }).id;
    const caller = byChannel.get(channelId);
    const trace = caller ?? byTakerLeg.get(channelId);
    if (!trace) return;
    if (caller) trace.callerBridge = bridgeId;
    else trace.takerBridge = bridgeId;
    if (trace.bridgedAt === undefined && trace.callerBridge === trace.takerBridge) trace.bridgedAt = sentAt;
  }
}

function onChannelDestroyed({ channelId, kind, at }: ChannelDestroyedObservation): void {
  if (kind === 'originated') {
    const endpoint = takerLegEndpoint.get(channelId);
    takerLegEndpoint.delete(channelId);
    if (endpoint?.startsWith('PJSIP/taker')) idleSince.set(endpoint, at);
  }
}

function callEnded(trace: Trace, hungUpBy: string): void {
  live -= 1;
  trace.ended = true;
  if (trace.bridgedAt !== undefined) return;
  if (hungUpBy !== 'caller') {
    trace.outcome = 'lost'; // the app hung up a caller it never connected
    return;
  }
  const now = performance.now();
  let takerWasFree = false;
  for (const since of idleSince.values()) {
    if (now - since >= IDLE_TAKER_MS) {
      takerWasFree = true;
      break;
    }
  }
  trace.outcome = takerWasFree ? 'lost' : 'abandoned';
}

function placeCall(run: StageRun, stepIndex: number): void {
  if (!emulator || !setup) return;
  const seq = nextNumber++;
  const from = `0812${seq}`;
  const trace: Trace = {
    step: stepIndex,
    channelId: '',
    stasisStartAt: undefined,
    answerAt: undefined,
    offers: 0,
    offerAt: undefined,
    takerChannelId: undefined,
    takerAnsweredAt: undefined,
    callerBridge: undefined,
    takerBridge: undefined,
    bridgedAt: undefined,
    ended: false,
    outcome: undefined,
    fallback: false,
  };
  byKey.set(numberKey(from), trace);
  steps[stepIndex]!.traces.push(trace);
  live += 1;
  const step = steps[stepIndex]!;
  if (live > step.peakLive) step.peakLive = live;
  const call = emulator.placeCall({
    from,
    trunk: setup.trunks[seq % setup.trunks.length]!,
    app: run.app,
    caller: [{ speak: 2 }],
    patienceMs: run.patienceMs,
  });
  trace.fallback = call.outcome === 'fallback';
  void call.ended.then((end) => callEnded(trace, end.hungUpBy));
}

function isSaturated(step: StepState, boundMs: number): boolean {
  const offers = step.traces.map((t) =>
    t.offerAt !== undefined && t.stasisStartAt !== undefined ? t.offerAt - t.stasisStartAt : Infinity,
  );
  offers.sort((a, b) => a - b);
  const p99 = percentile(offers, 99) ?? 0;
  return p99 > boundMs || step.traces.some((t) => t.offers > 1 || t.outcome === 'lost');
}

/** Every taker phone answers after the delay and hangs up after `talkMs` (undefined: never). */
function setTakerTalk(talkMs: number | undefined): void {
  if (!emulator || !setup) return;
  for (let i = 1; i <= setup.takers; i++) {
    emulator.setEndpoint(`PJSIP/taker${i}`, {
      answer: 'after',
      delayMs: setup.answerDelayMs,
      ...(talkMs === undefined ? {} : { hangupAfterMs: talkMs }),
    });
  }
}

async function runStage(run: StageRun): Promise<StageTraffic> {
  if (run.holdMs !== null) setTakerTalk(undefined);
  steps = [];
  byChannel.clear();
  byKey.clear();
  byTakerLeg.clear();
  let stopped = false;
  const evaluations: NodeJS.Timeout[] = [];
  const sampler = setInterval(() => {
    const step = steps.at(-1);
    if (!step) return;
    step.peakLive = Math.max(step.peakLive, live);
    step.minIdleTakers = Math.min(step.minIdleTakers, idleSince.size);
  }, SAMPLE_MS);

  for (let index = 0; index < run.steps.length && !stopped; index++) {
    const { rate, durationMs } = run.steps[index]!;
    const startedAt = performance.now();
    const step: StepState = {
      rate,
      startedAt,
      endedAt: startedAt,
      traces: [],
      peakLive: live,
      minIdleTakers: idleSince.size,
      cpuAtStart: cpuNow(),
      cpuUs: 0,
      saturated: false,
    };
    steps.push(step);
    await new Promise<void>((resolve) => {
      let placed = 0;
      const pace = setInterval(() => {
        const elapsed = performance.now() - startedAt;
        const due = Math.floor((rate * Math.min(elapsed, durationMs)) / 1000);
        while (placed < due && !stopped) {
          placeCall(run, index);
          placed += 1;
        }
        if (elapsed >= durationMs || stopped) {
          clearInterval(pace);
          resolve();
        }
      }, PACE_MS);
    });
    step.endedAt = performance.now();
    step.cpuUs = cpuNow() - step.cpuAtStart;
    notify<TrafficNotices, 'boundary'>('boundary', {
      step: index,
      at: epochNow(),
      live,
      last: stopped || index === run.steps.length - 1,
    });
    evaluations.push(
      setTimeout(() => {
        step.saturated = isSaturated(step, run.saturationMs);
        // One slow step can be a neighbour's burst on a shared machine; two in a row is the app.
        const previous = steps[index - 1];
        if (step.saturated && previous?.saturated && run.stopWhenSaturated) stopped = true;
      }, run.evaluateAfterMs),
    );
  }

  const all = steps.flatMap((s) => s.traces);
  if (run.holdMs !== null) {
    await new Promise((resolve) => setTimeout(resolve, run.holdMs ?? 0));
    const held = all.filter((trace) => trace.takerChannelId && !trace.ended);
    for (const [i, trace] of held.entries()) {
      setTimeout(
        () => {
          if (trace.takerChannelId && !trace.ended) emulator?.hangupChannel(trace.takerChannelId);
        },
        // Twice the rate they came at: quick enough, and not one instant no real centre sees.
        (i * 1000) / (2 * (run.steps[0]?.rate ?? 1)),
      );
    }
    setTakerTalk(setup?.talkMs);
  }
  const deadline = performance.now() + run.drainTimeoutMs;
  while (all.some((t) => !t.ended) && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  clearInterval(sampler);
  for (const timer of evaluations) clearTimeout(timer);
  // A ramp stopped as its next step began leaves that step empty: it was never run.
  if (steps.length > 1 && steps.at(-1)?.traces.length === 0) steps.pop();
  const result: StepTraffic[] = steps.map((step) => {
    const answerMs: number[] = [];
    const offerMs: number[] = [];
    const bridgeMs: number[] = [];
    for (const t of step.traces) {
      if (t.stasisStartAt === undefined) continue;
      if (t.answerAt !== undefined) answerMs.push(t.answerAt - t.stasisStartAt);
      offerMs.push(t.offerAt === undefined ? Infinity : t.offerAt - t.stasisStartAt);
      if (t.takerAnsweredAt !== undefined && t.bridgedAt !== undefined) {
        bridgeMs.push(t.bridgedAt - t.takerAnsweredAt);
      }
    }
    return {
      rate: step.rate,
      startedAt: performance.timeOrigin + step.startedAt,
      endedAt: performance.timeOrigin + step.endedAt,
      placed: step.traces.length,
      answerMs,
      offerMs,
      bridgeMs,
      bridged: step.traces.filter((t) => t.bridgedAt !== undefined).length,
      doubleOffers: step.traces.filter((t) => t.offers > 1).length,
      lost: step.traces.filter((t) => t.outcome === 'lost').map((t) => t.channelId),
      fallback: step.traces.filter((t) => t.fallback).length,
      abandoned: step.traces.filter((t) => t.outcome === 'abandoned').length,
      peakLive: step.peakLive,
      minIdleTakers: step.minIdleTakers,
      saturated: step.saturated || isSaturated(step, run.saturationMs),
      callerChannelIds: step.traces.map((t) => t.channelId),
      emulatorCpuUs: step.cpuUs,
    };
  });
  return { steps: result, drained: all.every((t) => t.ended) };
}

serve<TrafficApi>({
  async start(args) {
    setup = args;
    emulator = await startAsteriskEmulator({
      username: 'siaga112',
      password: args.password,
      sounds: { 'sound:siaga112/greeting': args.greetingMs },
      // Validating every event against the spec is the contract tests' job, not a load's.
      validateEvents: false,
    });
    const startedAt = performance.now();
    setTakerTalk(args.talkMs);
    for (let i = 1; i <= args.takers; i++) idleSince.set(`PJSIP/taker${i}`, startedAt);
    emulator.on('channel-created', onChannelCreated);
    emulator.on('channel-destroyed', onChannelDestroyed);
    emulator.on('request', onRequest);
    emulator.on('event', onEvent);
    return { url: emulator.url, recordingsDir: emulator.recordingsDir };
  },
  run: (args) => runStage(args),
  live: () => ({ live }),
  sample: ({ gc }) => probe.sample({ gc }),
  async stop() {
    await emulator?.stop();
    setImmediate(() => process.exit(0));
    return null;
  },
});
