/**
 * The state changes every channel goes through, with the events Asterisk 22 sends for each
 * (see ../shared/asterisk-ari/OBSERVED.md): entering Stasis, answering, and ending.
 */

import type { ChannelStateName } from '../ari/ari-models.ts';
import { causeText, dialStatusForCause } from './asterisk-format.ts';
import { leaveBridge } from './bridges.ts';
import type { ChannelEnd, ChannelRecord, EmulatorCore, EndParty } from './emulator-core.ts';
import { endPlaybacksOf } from './playbacks.ts';
import { endChannelRecordings } from './recording-state.ts';

export function setChannelState(core: EmulatorCore, channel: ChannelRecord, state: ChannelStateName): void {
  if (channel.state === state) return;
  channel.state = state;
  core.emitChannelEvent(channel, { type: 'ChannelStateChange' });
}

/** `Stasis(app,args)`: the channel now belongs to `app`, which gets StasisStart. */
export function enterStasis(core: EmulatorCore, channel: ChannelRecord, app: string, args: string[]): void {
  channel.app = app;
  channel.inStasis = true;
  channel.stasisArgs = args;
  channel.dialplan = { ...channel.dialplan, app_name: 'Stasis', app_data: [app, ...args].join(',') };
  core.emitChannelEvent(channel, { type: 'StasisStart', args: [...args] }, true);
}

export function answerChannel(core: EmulatorCore, channel: ChannelRecord): void {
  if (channel.state === 'Up') return;
  setChannelState(core, channel, 'Up');
  channel.onAnswered?.();
}

export interface EndRequest {
  by: EndParty;
  cause: number;
  /**
   * How the hangup reached the channel: `remote` (the far end hung up: ChannelHangupRequest with
   * cause), `soft` (DELETE from the app: ChannelHangupRequest with soft), `none` (Asterisk hangs up
   * the channel itself, e.g. a dial timeout: no ChannelHangupRequest).
   */
  request: 'remote' | 'soft' | 'none';
}

/** app_snoop.c's SNOOP_INTERVAL: the snoop channel reads a frame every 20 ms. */
const SNOOP_INTERVAL_MS = 20;

/**
 * Ends a channel: hangup request, its playbacks and recording, MOH and bridge membership, StasisEnd, and
 * ChannelDestroyed only for originated and snoop channels (a trunk channel returns to the dialplan
 * after Stasis, so the app never hears of its destruction). Snoop channels on it end a frame later.
 */
export function endChannel(core: EmulatorCore, channel: ChannelRecord, end: EndRequest): void {
  if (channel.gone) return;
  channel.gone = true;
  core.timers.clearOwner(channel.id);
  if (end.request === 'remote')
    core.emitChannelEvent(channel, { type: 'ChannelHangupRequest', cause: end.cause });
  if (end.request === 'soft') core.emitChannelEvent(channel, { type: 'ChannelHangupRequest', soft: true });
  endPlaybacksOf(core, channel);
  // The recording command returns on the hangup, before the channel leaves Stasis.
  endChannelRecordings(core, channel);
  channel.moh = false;
  const bridge = channel.bridgeId ? core.bridges.get(channel.bridgeId) : undefined;
  if (bridge) leaveBridge(core, bridge, channel);
  if (channel.inStasis) {
    core.emitChannelEvent(channel, { type: 'StasisEnd' }, true);
    channel.inStasis = false;
  }
  if (channel.kind === 'originated' || channel.kind === 'snoop') {
    if (channel.dialing) {
      channel.dialing = false;
      core.emitEvent(core.channelAudience(channel), {
        type: 'Dial',
        peer: core.channelJson(channel),
        dialstring: channel.dialstring,
        dialstatus: end.by === 'app' ? 'CANCEL' : dialStatusForCause(end.cause),
      });
    }
    core.emitChannelEvent(channel, {
      type: 'ChannelDestroyed',
      cause: end.cause,
      cause_txt: causeText(end.cause),
    });
  } else {
    // The trunk channel is destroyed once its dialplan ends; only endpoint subscribers hear it.
    core.emitEvent(core.endpointSubscribers(channel.endpointId), {
      type: 'ChannelDestroyed',
      cause: end.cause,
      cause_txt: causeText(end.cause),
      channel: core.channelJson(channel),
    });
  }
  channel.app = undefined;
  core.channels.delete(channel.id);
  core.observations.emit('channel-destroyed', {
    channelId: channel.id,
    kind: channel.kind,
    cause: end.cause,
    at: performance.now(),
  });
  core.publishEndpointSnapshot(channel.endpointId);
  endSnoopsOn(core, channel);
  const ended: ChannelEnd = { by: end.by, cause: end.cause };
  channel.onEnded?.(ended);
}

/**
 * The spied channel is gone: its audiohooks stop, so the snoop channel's next read (app_snoop.c
 * `snoop_read`, every SNOOP_INTERVAL) returns NULL and Asterisk hangs it up. No hangup request is
 * published and nothing sets a hangup cause on it: StasisEnd, then ChannelDestroyed with cause 0.
 */
function endSnoopsOn(core: EmulatorCore, spied: ChannelRecord): void {
  for (const snoop of core.channels.values()) {
    if (snoop.snoop?.spiedChannelId !== spied.id) continue;
    core.timers.set(snoop.id, core.scaled(SNOOP_INTERVAL_MS), () =>
      endChannel(core, snoop, { by: 'asterisk', cause: 0, request: 'none' }),
    );
  }
}
