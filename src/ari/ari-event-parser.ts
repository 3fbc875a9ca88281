import type { AriEvent, AriEventType } from './ari-models.ts';

/**
 * What a field must hold for siaga112 to act on the event: `id` a non-empty string, `strings` a
 * list of strings, a trailing `?` an optional field, an object the fields it must have in turn.
 * Only the fields siaga112 reads are checked, as events.json types them.
 */
type Shape =
  | 'id'
  | 'string'
  | 'string?'
  | 'number'
  | 'number?'
  | 'strings'
  | { readonly [field: string]: Shape };

const CHANNEL: Shape = { id: 'id', name: 'string', state: 'string', caller: { number: 'string' } };
const BRIDGE: Shape = { id: 'id' };
const PLAYBACK: Shape = { id: 'id', state: 'string' };
const RECORDING: Shape = { name: 'id', format: 'string', cause: 'string?' };
// Endpoints have no id: technology and resource name them.
const ENDPOINT: Shape = { technology: 'string', resource: 'string', state: 'string?' };

/** What each event we act on must carry for us to act on it safely. */
const EVENT_SHAPES: Record<AriEventType, Shape> = {
  StasisStart: { channel: CHANNEL, args: 'strings' },
  StasisEnd: { channel: CHANNEL },
  ChannelStateChange: { channel: CHANNEL },
  ChannelDtmfReceived: { channel: CHANNEL, digit: 'string' },
  ChannelTalkingStarted: { channel: CHANNEL },
  ChannelTalkingFinished: { channel: CHANNEL },
  PlaybackStarted: { playback: PLAYBACK },
  PlaybackFinished: { playback: PLAYBACK },
  ChannelHangupRequest: { channel: CHANNEL, cause: 'number?' },
  ChannelDestroyed: { channel: CHANNEL, cause: 'number', cause_txt: 'string' },
  ChannelEnteredBridge: { bridge: BRIDGE },
  ChannelLeftBridge: { bridge: BRIDGE, channel: CHANNEL },
  BridgeDestroyed: { bridge: BRIDGE },
  Dial: { peer: { id: 'id' } },
  ChannelVarset: {},
  EndpointStateChange: { endpoint: ENDPOINT },
  ApplicationReplaced: {},
  // A recording has no id: its name names it.
  RecordingStarted: { recording: RECORDING },
  RecordingFinished: { recording: RECORDING },
  RecordingFailed: { recording: RECORDING },
};

/**
 * Asterisk's events are a few kilobytes (a channel with its variables, a bridge with its members)
 * and nest a few levels. Bigger or deeper is no event: parsing it would hold the event loop, and
 * every call with it (a 3 MB frame of `[` takes JSON.parse over 5 s), so it is rejected unread.
 */
export const MAX_ARI_MESSAGE_LENGTH = 1024 * 1024;
export const MAX_ARI_MESSAGE_DEPTH = 32;

/** Why a message is not an event siaga112 can act on (a metric label: few, fixed values). */
export type AriMessageRejection =
  | 'too-large'
  | 'too-deep'
  | 'not-json'
  | 'not-an-object'
  | 'no-type'
  | 'invalid-field';

export const ARI_MESSAGE_REJECTIONS: readonly AriMessageRejection[] = [
  'too-large',
  'too-deep',
  'not-json',
  'not-an-object',
  'no-type',
  'invalid-field',
];

export type ParsedAriMessage =
  | { kind: 'event'; event: AriEvent }
  | { kind: 'ignored'; type: string }
  | { kind: 'malformed'; reason: AriMessageRejection; detail: string };

/**
 * Reads one WebSocket message. Asterisk may send event types we do not use (ignored) and a
 * broken peer may send anything (malformed): neither may throw into the socket handler, and a
 * malformed event never reaches a call, whichever channel it names.
 */
export function parseAriMessage(data: string): ParsedAriMessage {
  if (data.length > MAX_ARI_MESSAGE_LENGTH) {
    return { kind: 'malformed', reason: 'too-large', detail: `longer than ${MAX_ARI_MESSAGE_LENGTH}` };
  }
  if (nestsDeeperThan(data, MAX_ARI_MESSAGE_DEPTH)) {
    return { kind: 'malformed', reason: 'too-deep', detail: `nested deeper than ${MAX_ARI_MESSAGE_DEPTH}` };
  }
  let message: unknown;
  try {
    message = JSON.parse(data);
  } catch {
    return { kind: 'malformed', reason: 'not-json', detail: 'not JSON' };
  }
  if (!isRecord(message)) {
    return { kind: 'malformed', reason: 'not-an-object', detail: 'not a JSON object' };
  }
  if (typeof message.type !== 'string' || message.type === '') {
    return { kind: 'malformed', reason: 'no-type', detail: 'no event type' };
  }
  const type = message.type;
  if (!Object.hasOwn(EVENT_SHAPES, type)) return { kind: 'ignored', type };
  const wrong = mismatch(message, EVENT_SHAPES[type as AriEventType], '');
  if (wrong !== null) return { kind: 'malformed', reason: 'invalid-field', detail: `${type}: ${wrong}` };
  return { kind: 'event', event: message as unknown as AriEvent };
}

/** The first field of `value` that does not fit `shape` (`channel.id is not a non-empty string`), or null. */
function mismatch(value: Record<string, unknown>, shape: Shape, path: string): string | null {
  if (typeof shape === 'string') return null;
  for (const [field, expected] of Object.entries(shape)) {
    const at = `${path}${field}`;
    const found = Object.hasOwn(value, field) ? value[field] : undefined;
    if (typeof expected === 'object') {
      if (!isRecord(found)) return `${at} is not an object`;
      const inner = mismatch(found, expected, `${at}.`);
      if (inner !== null) return inner;
    } else if (!fits(found, expected)) {
      return `${at} is not ${DESCRIPTIONS[expected]}`;
    }
  }
  return null;
}

const DESCRIPTIONS: Record<Exclude<Shape, object>, string> = {
  id: 'a non-empty string',
  string: 'a string',
  'string?': 'a string',
  number: 'a number',
  'number?': 'a number',
  strings: 'a list of strings',
};

function fits(value: unknown, expected: Exclude<Shape, object>): boolean {
  switch (expected) {
    case 'id':
      return typeof value === 'string' && value !== '';
    case 'string':
      return typeof value === 'string';
    case 'string?':
      return value === undefined || typeof value === 'string';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'number?':
      return value === undefined || (typeof value === 'number' && Number.isFinite(value));
    case 'strings':
      return Array.isArray(value) && value.every((item) => typeof item === 'string');
  }
}

/** Whether JSON text nests objects and arrays deeper than `max` (brackets in strings do not count). */
function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // a backslash: the next character is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
