/**
 * The `/channels` handlers, with the checks and error answers of Asterisk's resource_channels.c:
 * `find_control` (404 Channel not found / 409 Channel not in Stasis application) and
 * `channel_state_invalid` (412 for Down, Rsrvd and Ringing channels).
 */
import { HANGUP_REASONS } from './asterisk-format.ts';
import { answerChannel, endChannel, enterStasis } from './channel-lifecycle.ts';
import type { ChannelRecord, EmulatorCore, SnoopDirection } from './emulator-core.ts';
import { canCreateOutboundChannel } from './endpoints.ts';
import { beginPlayback, queuePlayback } from './playbacks.ts';
import {
  errorResult,
  type HandlerResult,
  type OperationHandler,
  type RequestContext,
} from './spec-router.ts';
import { dialEndpoint, parseCallerId } from './taker-endpoint.ts';
import { disableTalkDetect, enableTalkDetect } from './talk-detection.ts';

/** AST_MAX_PUBLIC_UNIQUEID */
const MAX_UNIQUEID = 149;
const KNOWN_FORMATS = new Set(['ulaw', 'alaw', 'slin', 'slin16', 'g722', 'gsm', 'opus', 'g729']);
/** Dialplan functions the emulator can set; others fail as an unknown function does in Asterisk. */
const SETTABLE_FUNCTIONS = new Set([
  'TALK_DETECT',
  'CALLERID',
  'CONNECTEDLINE',
  'CHANNEL',
  'VOLUME',
  'TIMEOUT',
]);

const channelNotFound = errorResult(404, 'Channel not found');
const allocationFailed: HandlerResult = { status: 500, body: { error: 'Allocation failed' } };

type Controlled = { channel: ChannelRecord } | { error: HandlerResult };

/** `find_control` + optionally `channel_state_invalid`. */
function control(core: EmulatorCore, channelId: string | undefined, checkState: boolean): Controlled {
  const channel = core.channels.get(channelId ?? '');
  if (!channel) return { error: channelNotFound };
  if (!channel.inStasis) return { error: errorResult(409, 'Channel not in Stasis application') };
  if (checkState && (channel.state === 'Down' || channel.state === 'Rsrvd' || channel.state === 'Ringing')) {
    return { error: errorResult(412, 'Channel in invalid state') };
  }
  return { channel };
}

/** A handler that only needs a controllable channel in a valid state, and replies 204. */
function simpleControl(
  nickname: string,
  act: (core: EmulatorCore, channel: ChannelRecord) => void,
): OperationHandler {
  return {
    resource: 'channels',
    nickname,
    reads: ['channelId'],
    handle(ctx) {
      const found = control(ctx.core, ctx.string('channelId'), true);
      if ('error' in found) return found.error;
      act(ctx.core, found.channel);
      return { status: 204 };
    },
  };
}

const ORIGINATE_READS = [
  'endpoint',
  'extension',
  'context',
  'priority',
  'label',
  'app',
  'appArgs',
  'callerId',
  'timeout',
  'variables',
  'channelId',
  'otherChannelId',
  'originator',
  'formats',
] as const;

/** `ari_channels_handle_originate_with_id`, in the order Asterisk checks things. */
function originate(ctx: RequestContext): HandlerResult {
  const { core } = ctx;
  const channelId = ctx.string('channelId');
  const otherChannelId = ctx.string('otherChannelId');
  if ((channelId?.length ?? 0) > MAX_UNIQUEID || (otherChannelId?.length ?? 0) > MAX_UNIQUEID) {
    return errorResult(400, `Uniqueid length exceeds maximum of ${MAX_UNIQUEID}`);
  }
  const endpoint = ctx.string('endpoint') ?? '';
  if (endpoint === '') return errorResult(400, 'Endpoint must be specified');
  const originator = ctx.string('originator');
  const formats = ctx.string('formats');
  if (originator && formats) return errorResult(400, "Originator and formats can't both be specified");
  const slash = endpoint.indexOf('/');
  if (slash <= 0 || slash === endpoint.length - 1) return errorResult(400, 'Invalid endpoint specified');
  const app = ctx.string('app');
  if (!app) {
    if (ctx.string('extension')) {
      // Dialplan origination (extension/context/priority/label) has no dialplan to run here.
      ctx.string('context');
      ctx.int('priority');
      ctx.string('label');
      return errorResult(501, 'Not implemented in the siaga112 emulator');
    }
    return errorResult(400, 'Application or extension must be specified');
  }
  const variables = parseVariables(ctx.object('variables'));
  if ('error' in variables) return variables.error;
  if (originator && !core.channels.has(originator))
    return errorResult(400, 'Provided originator channel was not found');
  for (const format of formats ? formats.split(',').map((f) => f.trim()) : []) {
    if (!KNOWN_FORMATS.has(format)) return errorResult(400, `Provided format (${format}) was not found`);
  }
  const target = core.endpoints.get(endpoint);
  // An unknown endpoint and a phone with no reachable contact both fail in chan_pjsip's request
  // before a channel exists: 500 "Allocation failed", no events (see canCreateOutboundChannel).
  if (!target) return allocationFailed;
  if (target.kind === 'trunk') return errorResult(501, 'Not implemented in the siaga112 emulator');
  if (!canCreateOutboundChannel(target)) return allocationFailed;
  if (channelId && core.channels.has(channelId)) {
    return errorResult(409, 'Channel with given unique ID already exists');
  }
  const timeout = ctx.int('timeout') ?? 0;
  const appArgs = ctx.string('appArgs');
  const channel = dialEndpoint(core, {
    endpoint,
    channelId,
    app,
    // Asterisk runs Stasis(app,appArgs): the arguments are split on commas.
    appArgs: appArgs ? appArgs.split(',') : [],
    caller: parseCallerId(ctx.string('callerId')),
    timeoutSeconds: timeout > 0 ? timeout : timeout === -1 ? -1 : 30,
    variables: variables.values,
  });
  return { status: 200, body: core.channelJson(channel) };
}

/** The body's `variables`: strings, or `{value, report_events}` objects (Asterisk 22). */
function parseVariables(
  body: Record<string, unknown> | undefined,
): { values: Record<string, string> } | { error: HandlerResult } {
  const raw = body?.variables;
  const values: Record<string, string> = {};
  if (raw === undefined) return { values };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { error: errorResult(400, "Only string values in the 'variables' object allowed") };
  }
  for (const [name, value] of Object.entries(raw)) {
    if (typeof value === 'string') values[name] = value;
    else if (
      typeof value === 'object' &&
      value !== null &&
      typeof (value as { value?: unknown }).value === 'string'
    ) {
      values[name] = (value as { value: string }).value;
    } else return { error: errorResult(400, "Only string values in the 'variables' object allowed") };
  }
  return { values };
}

function hangup(ctx: RequestContext): HandlerResult {
  const channel = ctx.core.channels.get(ctx.string('channelId') ?? '');
  if (!channel) return channelNotFound;
  const reason = ctx.string('reason');
  const reasonCode = ctx.string('reason_code');
  if (reason && reasonCode) return errorResult(400, "The reason and reason_code can't both be specified");
  let cause = 16;
  if (reasonCode) {
    const parsed = /^\s*(-?\d+)/.exec(reasonCode);
    if (!parsed) return errorResult(400, 'Invalid reason for hangup reason code provided');
    cause = Number.parseInt(parsed[1]!, 10);
  } else if (reason) {
    const mapped = HANGUP_REASONS[reason];
    if (mapped === undefined) return errorResult(400, 'Invalid reason for hangup reason provided');
    cause = mapped;
  }
  return { status: 204, after: () => endChannel(ctx.core, channel, { by: 'app', cause, request: 'soft' }) };
}

function play(ctx: RequestContext): HandlerResult {
  const found = control(ctx.core, ctx.string('channelId'), true);
  if ('error' in found) return found.error;
  if ((ctx.int('skipms') ?? 0) < 0) return errorResult(400, 'skipms cannot be negative');
  if ((ctx.int('offsetms') ?? 0) < 0) return errorResult(400, 'offsetms cannot be negative');
  const media = (ctx.list('media') ?? []).filter((m) => m.length > 0);
  const id = ctx.string('playbackId') || crypto.randomUUID();
  if (media.length === 0 || ctx.core.playbacks.has(id)) {
    return errorResult(500, 'Failed to queue media for playback');
  }
  const playback = queuePlayback(
    ctx.core,
    found.channel,
    id,
    media,
    ctx.string('lang') || found.channel.language,
  );
  return {
    status: 201,
    body: ctx.core.playbackJson(playback),
    headers: { Location: `/playbacks/${id}` },
    after: () => beginPlayback(ctx.core, playback),
  };
}

const PLAY_READS = ['channelId', 'media', 'lang', 'offsetms', 'skipms', 'playbackId'] as const;

function getChannelVar(ctx: RequestContext): HandlerResult {
  const variable = ctx.string('variable') ?? '';
  if (variable === '') return errorResult(400, 'Variable name is required');
  const channel = ctx.core.channels.get(ctx.string('channelId') ?? '');
  if (!channel) return errorResult(404, 'Provided channel was not found');
  if (variable.endsWith(')')) {
    const value = readFunction(channel, variable);
    return value === undefined
      ? errorResult(500, 'Unable to read provided function')
      : { status: 200, body: { value } };
  }
  const value = channel.vars.get(variable);
  return value === undefined
    ? errorResult(404, 'Provided variable was not found')
    : { status: 200, body: { value } };
}

function readFunction(channel: ChannelRecord, expression: string): string | undefined {
  switch (expression) {
    case 'CALLERID(num)':
      return channel.caller.number;
    case 'CALLERID(name)':
      return channel.caller.name;
    case 'CONNECTEDLINE(num)':
      return channel.connected.number;
    case 'CONNECTEDLINE(name)':
      return channel.connected.name;
    case 'CHANNEL(name)':
      return channel.name;
    default:
      return undefined;
  }
}

function setChannelVar(ctx: RequestContext): HandlerResult {
  const variable = ctx.string('variable') ?? '';
  if (variable === '') return errorResult(400, 'Variable name is required');
  const found = control(ctx.core, ctx.string('channelId'), false);
  if ('error' in found) return found.error;
  const { channel } = found;
  const value = ctx.string('value') ?? '';
  const fn = /^([A-Z_]+)\((.*)\)$/.exec(variable);
  if (fn) {
    const [, name, arg] = fn;
    if (!SETTABLE_FUNCTIONS.has(name!)) return errorResult(400, 'Failed to execute function');
    if (name === 'TALK_DETECT') {
      if (arg === 'set') enableTalkDetect(ctx.core, channel);
      else if (arg === 'remove') disableTalkDetect(ctx.core, channel);
      else return errorResult(400, 'Failed to execute function');
    }
    return { status: 204 };
  }
  channel.vars.set(variable, value);
  return {
    status: 204,
    after: () => ctx.core.emitChannelEvent(channel, { type: 'ChannelVarset', variable, value }),
  };
}

const SNOOP_DIRECTIONS: readonly SnoopDirection[] = ['none', 'both', 'out', 'in'];

function snoopDirection(raw: string | undefined): SnoopDirection | undefined {
  if (raw === undefined || raw === '') return 'none';
  return SNOOP_DIRECTIONS.find((d) => d === raw);
}

/**
 * `ast_ari_channels_snoop_channel(_with_id)` in Asterisk's order of checks, then
 * `stasis_app_control_snoop`: a `Snoop/<uniqueid>-<n>` channel, Up, on no endpoint, which runs
 * `Stasis(app,appArgs)` at once. The spied channel need not be in Stasis.
 */
function snoop(ctx: RequestContext): HandlerResult {
  const { core } = ctx;
  const spy = snoopDirection(ctx.string('spy'));
  if (!spy) return errorResult(400, 'Invalid direction specified for spy');
  const whisper = snoopDirection(ctx.string('whisper'));
  if (!whisper) return errorResult(400, 'Invalid direction specified for whisper');
  if (spy === 'none' && whisper === 'none') {
    return errorResult(400, 'Direction must be specified for at least spy or whisper');
  }
  const app = ctx.string('app');
  if (!app) return errorResult(400, 'Application name is required');
  const spied = core.channels.get(ctx.string('channelId') ?? '');
  if (!spied || spied.gone) return errorResult(404, 'Provided channel was not found');
  const snoopId = ctx.string('snoopId') || undefined;
  // ast_channel_alloc refuses a too long or already used uniqueid; the snoop then fails.
  if (snoopId !== undefined && (snoopId.length > MAX_UNIQUEID || core.channels.has(snoopId))) {
    return errorResult(500, 'Snoop channel could not be created');
  }
  const appArgs = ctx.string('appArgs');
  const channel = core.newChannel({
    ...(snoopId !== undefined ? { id: snoopId } : {}),
    endpoint: '',
    name: core.nextSnoopName(spied.id),
    protocolId: '',
    kind: 'snoop',
    state: 'Up',
    caller: { name: '', number: '' },
    connected: { name: '', number: '' },
    dialplan: { context: 'default', exten: 's', priority: 1, app_name: '', app_data: '' },
    snoop: { spiedChannelId: spied.id, spy, whisper },
  });
  // The snoop thread runs Stasis(app,appArgs): the arguments are split on commas.
  const args = appArgs ? appArgs.split(',') : [];
  return {
    status: 200,
    body: core.channelJson(channel),
    after: () => {
      if (channel.gone) return;
      // Stasis() fails for an app no WebSocket holds; the snoop thread then hangs the channel up.
      if (core.isAppRegistered(app)) enterStasis(core, channel, app, args);
      else endChannel(core, channel, { by: 'asterisk', cause: 0, request: 'none' });
    },
  };
}

const SNOOP_READS = ['channelId', 'snoopId', 'spy', 'whisper', 'app', 'appArgs'] as const;

export const channelHandlers: OperationHandler[] = [
  {
    resource: 'channels',
    nickname: 'list',
    reads: [],
    handle: (ctx) => ({
      status: 200,
      body: [...ctx.core.channels.values()].map((c) => ctx.core.channelJson(c)),
    }),
  },
  {
    resource: 'channels',
    nickname: 'get',
    reads: ['channelId'],
    handle(ctx) {
      const channel = ctx.core.channels.get(ctx.string('channelId') ?? '');
      return channel ? { status: 200, body: ctx.core.channelJson(channel) } : channelNotFound;
    },
  },
  { resource: 'channels', nickname: 'originate', reads: ORIGINATE_READS, handle: originate },
  { resource: 'channels', nickname: 'originateWithId', reads: ORIGINATE_READS, handle: originate },
  { resource: 'channels', nickname: 'hangup', reads: ['channelId', 'reason', 'reason_code'], handle: hangup },
  {
    resource: 'channels',
    nickname: 'answer',
    reads: ['channelId'],
    handle(ctx) {
      const found = control(ctx.core, ctx.string('channelId'), true);
      if ('error' in found) return found.error;
      // Asterisk can deliver ChannelStateChange (Up) before the 204: send it first.
      answerChannel(ctx.core, found.channel);
      return { status: 204 };
    },
  },
  simpleControl('ring', () => {}),
  simpleControl('ringStop', () => {}),
  simpleControl('hold', () => {}),
  simpleControl('unhold', () => {}),
  simpleControl('startSilence', () => {}),
  simpleControl('stopSilence', () => {}),
  {
    resource: 'channels',
    nickname: 'startMoh',
    reads: ['channelId', 'mohClass'],
    handle(ctx) {
      const found = control(ctx.core, ctx.string('channelId'), true);
      if ('error' in found) return found.error;
      ctx.string('mohClass');
      found.channel.moh = true;
      return { status: 204 };
    },
  },
  simpleControl('stopMoh', (_core, channel) => {
    channel.moh = false;
  }),
  {
    resource: 'channels',
    nickname: 'sendDTMF',
    reads: ['channelId', 'dtmf'],
    handle(ctx) {
      const found = control(ctx.core, ctx.string('channelId'), true);
      if ('error' in found) return found.error;
      if (!ctx.string('dtmf')) return errorResult(400, 'DTMF is required');
      return { status: 204 };
    },
  },
  { resource: 'channels', nickname: 'play', reads: PLAY_READS, handle: play },
  { resource: 'channels', nickname: 'snoopChannel', reads: SNOOP_READS, handle: snoop },
  { resource: 'channels', nickname: 'snoopChannelWithId', reads: SNOOP_READS, handle: snoop },
  { resource: 'channels', nickname: 'playWithId', reads: PLAY_READS, handle: play },
  {
    resource: 'channels',
    nickname: 'getChannelVar',
    reads: ['channelId', 'variable'],
    handle: getChannelVar,
  },
  {
    resource: 'channels',
    nickname: 'setChannelVar',
    reads: ['channelId', 'variable', 'value'],
    handle: setChannelVar,
  },
];
