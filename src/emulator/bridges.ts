/**
 * Mixing bridges: channels entering and leaving (with the ChannelVarset / ChannelConnectedLine
 * noise Asterisk adds), destruction, and the `/bridges` handlers with Asterisk's error answers.
 */
import { asteriskTimestamp } from './asterisk-format.ts';
import type { BridgeRecord, ChannelRecord, EmulatorCore } from './emulator-core.ts';
import { channelRecording, endBridgeRecordings } from './recording-state.ts';
import {
  errorResult,
  type HandlerResult,
  type OperationHandler,
  type RequestContext,
} from './spec-router.ts';

const BRIDGE_TYPES = new Set([
  'mixing',
  'holding',
  'dtmf_events',
  'proxy_media',
  'video_sfu',
  'video_single',
  'sdp_label',
]);

function bridgeApps(bridge: BridgeRecord, channel: ChannelRecord): (string | undefined)[] {
  return [channel.app, ...bridge.apps];
}

/** Puts a Stasis channel into a bridge (leaving any other bridge first). */
export function enterBridge(core: EmulatorCore, bridge: BridgeRecord, channel: ChannelRecord): void {
  if (channel.bridgeId === bridge.id) return;
  const previous = channel.bridgeId ? core.bridges.get(channel.bridgeId) : undefined;
  if (previous) leaveBridge(core, previous, channel);
  bridge.channels.push(channel.id);
  channel.bridgeId = bridge.id;
  channel.moh = false;
  if (channel.app) bridge.apps.add(channel.app);
  core.emitEvent(bridgeApps(bridge, channel), {
    type: 'ChannelEnteredBridge',
    bridge: core.bridgeJson(bridge),
    channel: core.channelJson(channel),
  });
  const members = bridge.channels.map((id) => core.channels.get(id)).filter((c) => c !== undefined);
  if (members.length < 2) return;
  for (const member of members) {
    member.peerBridged = true;
    const peers = members.filter((m) => m !== member);
    if (members.length === 2 && peers[0]) {
      member.connected = { ...peers[0].caller };
      core.emitChannelEvent(member, { type: 'ChannelConnectedLine' });
    }
    // Asterisk sets these on every bridged channel; apps see them as ChannelVarset noise.
    setBridgeVar(core, member, 'BRIDGEPEER', peers.map((p) => p.name).join(','));
    setBridgeVar(core, member, 'BRIDGEPVTCALLID', peers[0]?.protocolId ?? '');
  }
}

function setBridgeVar(core: EmulatorCore, channel: ChannelRecord, variable: string, value: string): void {
  channel.vars.set(variable, value);
  core.emitChannelEvent(channel, { type: 'ChannelVarset', variable, value });
}

export function leaveBridge(core: EmulatorCore, bridge: BridgeRecord, channel: ChannelRecord): void {
  if (channel.bridgeId !== bridge.id) return;
  bridge.channels = bridge.channels.filter((id) => id !== channel.id);
  channel.bridgeId = undefined;
  core.emitEvent(bridgeApps(bridge, channel), {
    type: 'ChannelLeftBridge',
    bridge: core.bridgeJson(bridge),
    channel: core.channelJson(channel),
  });
}

export function destroyBridge(core: EmulatorCore, bridge: BridgeRecord): void {
  // Its Recorder channels are kicked out with everyone else: their recordings end.
  endBridgeRecordings(core, bridge);
  for (const id of [...bridge.channels]) {
    const channel = core.channels.get(id);
    if (channel) leaveBridge(core, bridge, channel);
  }
  core.bridges.delete(bridge.id);
  core.emitEvent(bridge.apps, { type: 'BridgeDestroyed', bridge: core.bridgeJson(bridge) });
}

function createBridge(
  ctx: RequestContext,
  id: string,
  type: string | undefined,
  name: string | undefined,
): HandlerResult {
  const types = (type ?? 'mixing').split(',').map((t) => t.trim());
  if (!types.every((t) => BRIDGE_TYPES.has(t))) {
    return errorResult(500, `Unable to create bridge. Possible duplicate bridge id '${id}'`);
  }
  const bridge: BridgeRecord = {
    id,
    name: name ?? '',
    bridgeType: types.includes('holding') ? 'holding' : 'mixing',
    creationtime: asteriskTimestamp(),
    channels: [],
    apps: new Set(),
  };
  ctx.core.bridges.set(id, bridge);
  return { status: 200, body: ctx.core.bridgeJson(bridge) };
}

/** Resolves the `channel` list of addChannel/removeChannel as Asterisk's control_list_create does. */
function channelList(ctx: RequestContext): ChannelRecord[] | HandlerResult {
  const ids = (ctx.list('channel') ?? []).filter((id) => id.length > 0);
  if (ids.length === 0) return errorResult(400, 'Missing parameter channel');
  const channels: ChannelRecord[] = [];
  for (const id of ids) {
    const channel = ctx.core.channels.get(id);
    if (!channel) return errorResult(400, 'Channel not found');
    if (!channel.inStasis) return errorResult(422, 'Channel not in Stasis application');
    channels.push(channel);
  }
  return channels;
}

const bridgeNotFound = errorResult(404, 'Bridge not found');

export const bridgeHandlers: OperationHandler[] = [
  {
    resource: 'bridges',
    nickname: 'list',
    reads: [],
    handle: (ctx) => ({
      status: 200,
      body: [...ctx.core.bridges.values()].map((b) => ctx.core.bridgeJson(b)),
    }),
  },
  {
    resource: 'bridges',
    nickname: 'create',
    reads: ['type', 'bridgeId', 'name'],
    handle(ctx) {
      const id = ctx.string('bridgeId') || crypto.randomUUID();
      if (ctx.core.bridges.has(id)) return errorResult(409, `Bridge with id '${id}' already exists`);
      return createBridge(ctx, id, ctx.string('type'), ctx.string('name'));
    },
  },
  {
    resource: 'bridges',
    nickname: 'createWithId',
    reads: ['type', 'bridgeId', 'name'],
    handle(ctx) {
      const id = ctx.string('bridgeId') ?? '';
      const existing = ctx.core.bridges.get(id);
      if (existing) {
        // Asterisk treats createWithId on an existing bridge as an update that may change nothing.
        const name = ctx.string('name');
        if (name && name !== existing.name)
          return errorResult(500, 'Changing bridge name is not implemented');
        if (ctx.string('type')) {
          return errorResult(500, 'Supplying a bridge type when updating a bridge is not allowed.');
        }
        return { status: 200, body: ctx.core.bridgeJson(existing) };
      }
      return createBridge(ctx, id, ctx.string('type'), ctx.string('name'));
    },
  },
  {
    resource: 'bridges',
    nickname: 'get',
    reads: ['bridgeId'],
    handle(ctx) {
      const bridge = ctx.core.bridges.get(ctx.string('bridgeId') ?? '');
      return bridge ? { status: 200, body: ctx.core.bridgeJson(bridge) } : bridgeNotFound;
    },
  },
  {
    resource: 'bridges',
    nickname: 'destroy',
    reads: ['bridgeId'],
    handle(ctx) {
      const bridge = ctx.core.bridges.get(ctx.string('bridgeId') ?? '');
      if (!bridge) return bridgeNotFound;
      destroyBridge(ctx.core, bridge);
      return { status: 204 };
    },
  },
  {
    resource: 'bridges',
    nickname: 'addChannel',
    reads: ['bridgeId', 'channel'],
    handle(ctx) {
      const bridge = ctx.core.bridges.get(ctx.string('bridgeId') ?? '');
      if (!bridge) return bridgeNotFound;
      const channels = channelList(ctx);
      if (!Array.isArray(channels)) return channels;
      // res_stasis_recording's add rule: a channel being recorded cannot join a bridge. Asterisk
      // adds the channels one by one and stops at the first refused; those before it are added.
      const recording = channels.findIndex((channel) => channelRecording(ctx.core, channel) !== undefined);
      const added = recording === -1 ? channels : channels.slice(0, recording);
      const join = () => {
        for (const channel of added) enterBridgeIfAlive(ctx.core, bridge, channel);
      };
      if (recording !== -1) {
        return { ...errorResult(409, `Channel ${channels[recording]?.id} currently recording`), after: join };
      }
      return { status: 204, after: join };
    },
  },
  {
    resource: 'bridges',
    nickname: 'removeChannel',
    reads: ['bridgeId', 'channel'],
    handle(ctx) {
      const bridge = ctx.core.bridges.get(ctx.string('bridgeId') ?? '');
      if (!bridge) return bridgeNotFound;
      const channels = channelList(ctx);
      if (!Array.isArray(channels)) return channels;
      if (channels.some((c) => c.bridgeId !== bridge.id))
        return errorResult(422, 'Channel not in this bridge');
      for (const channel of channels) leaveBridge(ctx.core, bridge, channel);
      return { status: 204 };
    },
  },
];

function enterBridgeIfAlive(core: EmulatorCore, bridge: BridgeRecord, channel: ChannelRecord): void {
  // Between the 204 and now, the bridge or the channel may have gone (a hangup race).
  if (core.bridges.has(bridge.id) && !channel.gone) enterBridge(core, bridge, channel);
}
