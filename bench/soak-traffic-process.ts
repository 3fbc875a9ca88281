/**
 * The Asterisk emulator in its own process for the soak, with the demo's callers (src/replay's
 * generated day: genuine, prank, repeat pranksters, silent, misdialled and questions, in their
 * shares and caller-ID forms) arriving at a steady rate. Taker phones pick up after a short delay;
 * each call taker talks for the caller's talk time, hangs up and gives the verdict (through the
 * soak, which tells siaga112 as a desk would), so calls complete as on a real floor.
 */
import type { AsteriskEmulator } from '../src/emulator/asterisk-emulator.ts';
import { startAsteriskEmulator } from '../src/emulator/asterisk-emulator.ts';
import type { TrafficCall } from '../src/replay/traffic.ts';
import { generateDay } from '../src/replay/traffic-generator.ts';
import { OFFER_CHANNEL_PREFIX } from '../src/routing/call-session.ts';
import { notify, serve } from './ipc.ts';
import { createProcessProbe } from './process-probe.ts';
import type { SoakRun, SoakTrafficApi, SoakTrafficNotices } from './soak-api.ts';

/** How often due calls are placed; arrivals are paced against the start, not the timer. */
const PACE_MS = 50;
/** Callers are made up this many at a time (each batch a generated day of its own seed). */
const BATCH = 1000;
// The demo's prompt lengths (src/replay/replay.ts), in ms.
const SOUNDS = {
  'sound:siaga112/greeting': 4000,
  'sound:siaga112/please-hold': 3000,
  'sound:siaga112/misuse-warning': 8000,
  'sound:siaga112/press-5-twice': 5000,
  'sound:siaga112/silent-press-5': 5000,
};

interface Caller {
  readonly call: TrafficCall;
  bridged: boolean;
}

const probe = createProcessProbe();
let emulator: AsteriskEmulator | undefined;
let pace: NodeJS.Timeout | undefined;
let placed = 0;
let bridged = 0;
let fallback = 0;
/** Callers on the line, by caller channel id. */
const live = new Map<string, Caller>();
const callerChannelIds: string[] = [];
const byTruth: Record<string, { placed: number; bridged: number }> = {};
const endedBy: Record<string, number> = {};
/** Taker leg channel id → taker id (from the channel's name, `PJSIP/taker7-…`). */
const takerOf = new Map<string, string>();
/** Call takers talking: hang-up timers by taker leg. */
const talking = new Map<string, NodeJS.Timeout>();

function placeCalls(run: SoakRun): void {
  if (!emulator) throw new Error('not started');
  const startedAt = performance.now();
  let batch: TrafficCall[] = [];
  let batchNumber = 0;
  let placedHere = 0;
  clearInterval(pace);
  pace = setInterval(() => {
    const due = Math.floor((run.rate * (performance.now() - startedAt)) / 1000);
    while (placedHere < due && emulator) {
      if (batch.length === 0) batch = generateDay({ calls: BATCH, seed: run.seed + batchNumber++ });
      placeOne(emulator, batch.shift()!, run.timeScale);
      placedHere += 1;
    }
  }, PACE_MS);
}

function placeOne(on: AsteriskEmulator, call: TrafficCall, timeScale: number): void {
  placed += 1;
  byTruth[call.truth] ??= { placed: 0, bridged: 0 };
  byTruth[call.truth]!.placed += 1;
  const placedCall = on.placeCall({
    from: call.from,
    trunk: call.trunk,
    caller: call.caller,
    patienceMs: call.patience * timeScale * 1000,
  });
  callerChannelIds.push(placedCall.channelId);
  if (placedCall.outcome === 'fallback') fallback += 1;
  live.set(placedCall.channelId, { call: { ...call, talk: call.talk * timeScale }, bridged: false });
  void placedCall.ended.then(({ hungUpBy }) => {
    live.delete(placedCall.channelId);
    endedBy[hungUpBy] = (endedBy[hungUpBy] ?? 0) + 1;
  });
}

/** Both legs in one bridge: the call taker talks for the caller's time, hangs up, gives a verdict. */
function onBridged(bridgedIds: readonly string[]): void {
  const callerId = bridgedIds.find((id) => live.has(id));
  const takerLeg = bridgedIds.find((id) => id.startsWith(OFFER_CHANNEL_PREFIX));
  if (!callerId || !takerLeg || talking.has(takerLeg)) return;
  const caller = live.get(callerId)!;
  if (caller.bridged) return; // put back together after a fault: the conversation goes on
  caller.bridged = true;
  bridged += 1;
  byTruth[caller.call.truth]!.bridged += 1;
  const callId = takerLeg.slice(OFFER_CHANNEL_PREFIX.length).replace(/-\d+$/, '');
  const takerId = takerOf.get(takerLeg) ?? '';
  talking.set(
    takerLeg,
    setTimeout(() => {
      talking.delete(takerLeg);
      takerOf.delete(takerLeg);
      emulator?.hangupChannel(takerLeg);
      notify<SoakTrafficNotices, 'talked'>('talked', {
        callId,
        takerId,
        verdict: caller.call.verdict,
        truth: caller.call.truth,
      });
    }, caller.call.talk * 1000),
  );
}

serve<SoakTrafficApi>({
  async start({ password, takers, answerDelayMs }) {
    emulator = await startAsteriskEmulator({
      username: 'siaga112',
      password,
      sounds: SOUNDS,
      // Validating every event against the spec is the contract tests' job, not a soak's.
      validateEvents: false,
    });
    for (let i = 1; i <= takers; i++) {
      emulator.setEndpoint(`PJSIP/taker${i}`, { answer: 'after', delayMs: answerDelayMs });
    }
    emulator.on('channel-created', ({ channel, kind }) => {
      if (kind === 'originated' && channel.name.startsWith('PJSIP/taker')) {
        takerOf.set(channel.id, channel.name.slice('PJSIP/'.length, channel.name.lastIndexOf('-')));
      }
    });
    emulator.on('channel-destroyed', ({ channelId }) => {
      // A taker leg that never talked (the caller went first, the phone failed) is forgotten.
      if (!talking.has(channelId)) takerOf.delete(channelId);
    });
    emulator.on('event', ({ event }) => {
      if (event.type !== 'ChannelEnteredBridge') return;
      onBridged((event.bridge as { channels?: string[] } | undefined)?.channels ?? []);
    });
    return { url: emulator.url, recordingsDir: emulator.recordingsDir };
  },
  run(args) {
    placeCalls(args);
    return null;
  },
  stopArrivals() {
    clearInterval(pace);
    return { placed };
  },
  async drain({ timeoutMs }) {
    const deadline = performance.now() + timeoutMs;
    while (live.size > 0 && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    return { live: live.size };
  },
  state() {
    const snapshot = emulator?.snapshot();
    return {
      placed,
      live: live.size,
      bridged,
      channels: snapshot?.channels.length ?? 0,
      bridges: snapshot?.bridges.length ?? 0,
      playbacks: snapshot?.playbacks.length ?? 0,
    };
  },
  result: () => ({ callerChannelIds, byTruth, endedBy, fallback, live: live.size }),
  sample: ({ gc }) => probe.sample({ gc }),
  async stop() {
    clearInterval(pace);
    for (const timer of talking.values()) clearTimeout(timer);
    await emulator?.stop();
    setImmediate(() => process.exit(0));
    return null;
  },
});
