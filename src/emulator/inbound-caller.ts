/**
 * Calls arriving on an operator trunk into `Stasis(app)`, and the virtual caller behind each one,
 * scripted as in ../shared/traffic/FORMAT.md (speak, silence, DTMF keys, hang up, patience).
 */
import { endChannel, enterStasis } from './channel-lifecycle.ts';
import type { ChannelEnd, ChannelRecord, EmulatorCore } from './emulator-core.ts';
import { ensureTrunk } from './endpoints.ts';
import { speechStarted, speechStopped } from './talk-detection.ts';

export type CallerStep = { speak: number } | { silence: number } | { dtmf: string } | { hangup: true };

export interface PlaceCallOptions {
  /** Caller ID exactly as the trunk delivers it (untrusted: may be '', 'anonymous', junk). */
  from: string;
  trunk?: string;
  exten?: string;
  app?: string;
  appArgs?: string[];
  /** What the caller does once answered; afterwards they stay on the line silently. Default: nothing. */
  caller?: CallerStep[];
  /** Caller hangs up this long after arrival unless bridged with another channel by then. */
  patienceMs?: number;
}

export type CallOutcome = 'stasis' | 'fallback';

export interface CallEnded {
  channelId: string;
  /** `caller`: the caller hung up; `app`: DELETE from the app; `dialplan`: the fallback took it. */
  hungUpBy: 'caller' | 'app' | 'dialplan' | 'shutdown';
  cause: number;
}

export interface InboundCall {
  readonly channelId: string;
  readonly outcome: CallOutcome;
  readonly ended: Promise<CallEnded>;
  /** The caller hangs up (default cause 16, Normal Clearing). */
  hangup(cause?: number): void;
  /** The caller presses keys, 100 ms apart (scaled by timeScale). */
  pressKeys(digits: string): void;
  startTalking(): void;
  stopTalking(): void;
}

const KEY_SPACING_MS = 100;
const KEY_DURATION_MS = 100;

export function placeInboundCall(core: EmulatorCore, options: PlaceCallOptions): InboundCall {
  const trunk = options.trunk ?? 'telkomsel';
  const exten = options.exten ?? '112';
  const app = options.app ?? 'siaga112';
  const appArgs = options.appArgs ?? [];
  ensureTrunk(core, `PJSIP/${trunk}`);
  const channel = core.newChannel({
    endpoint: `PJSIP/${trunk}`,
    kind: 'inbound',
    state: 'Ring',
    caller: { name: '', number: options.from },
    connected: { name: '', number: '' },
    dialplan: {
      context: 'from-trunk',
      exten,
      priority: 1,
      app_name: 'Stasis',
      app_data: [app, ...appArgs].join(','),
    },
  });
  let resolveEnded: (end: CallEnded) => void = () => {};
  const ended = new Promise<CallEnded>((resolve) => {
    resolveEnded = resolve;
  });
  channel.onEnded = (end: ChannelEnd) =>
    resolveEnded({ channelId: channel.id, hungUpBy: party(end), cause: end.cause });
  const hangup = (cause = 16): void => endChannel(core, channel, { by: 'remote', cause, request: 'remote' });

  let outcome: CallOutcome;
  if (core.isAppRegistered(app)) {
    outcome = 'stasis';
    channel.onAnswered = () => runScript(core, channel, options.caller ?? [], hangup);
    if (options.patienceMs !== undefined) {
      core.timers.set(channel.id, core.scaled(options.patienceMs), () => {
        if (!channel.peerBridged) hangup();
      });
    }
    enterStasis(core, channel, app, appArgs);
  } else {
    // Stasis() fails (STASISSTATUS=FAILED) and the dialplan continues at its fallback, which is
    // outside the emulator: the call is recorded and leaves the emulated Asterisk at once.
    outcome = 'fallback';
    core.fallbackCalls.push({ channelId: channel.id, from: options.from, trunk, app, at: performance.now() });
    endChannel(core, channel, { by: 'asterisk', cause: 16, request: 'none' });
  }

  return {
    channelId: channel.id,
    outcome,
    ended,
    hangup,
    pressKeys: (digits) => pressKeys(core, channel, digits, 0),
    startTalking: () => speechStarted(core, channel),
    stopTalking: () => speechStopped(core, channel),
  };
}

function party(end: ChannelEnd): CallEnded['hungUpBy'] {
  switch (end.by) {
    case 'remote':
      return 'caller';
    case 'app':
      return 'app';
    case 'asterisk':
      return 'dialplan';
    case 'shutdown':
      return 'shutdown';
  }
}

/** Schedules the keys after `offsetMs`; each arrives as ChannelDtmfReceived when the key ends. */
function pressKeys(core: EmulatorCore, channel: ChannelRecord, digits: string, offsetMs: number): number {
  let at = offsetMs;
  for (const digit of digits) {
    at += KEY_DURATION_MS;
    core.timers.set(channel.id, core.scaled(at), () => {
      core.emitChannelEvent(channel, { type: 'ChannelDtmfReceived', digit, duration_ms: KEY_DURATION_MS });
    });
    at += KEY_SPACING_MS;
  }
  return at;
}

/** Runs the caller's steps from the moment the call is answered. */
function runScript(
  core: EmulatorCore,
  channel: ChannelRecord,
  steps: CallerStep[],
  hangup: () => void,
): void {
  let atMs = 0;
  for (const step of steps) {
    if ('speak' in step) {
      const start = atMs;
      atMs += step.speak * 1000;
      core.timers.set(channel.id, core.scaled(start), () => speechStarted(core, channel));
      core.timers.set(channel.id, core.scaled(atMs), () => speechStopped(core, channel));
    } else if ('silence' in step) {
      atMs += step.silence * 1000;
    } else if ('dtmf' in step) {
      atMs = pressKeys(core, channel, step.dtmf, atMs);
    } else {
      core.timers.set(channel.id, core.scaled(atMs), hangup);
      return;
    }
  }
}
