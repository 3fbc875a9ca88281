import type { AriEvent, AriEventType } from './ari-models.ts';

/** What each event we act on must carry for us to act on it safely. */
const REQUIRED_OBJECTS: Record<AriEventType, readonly string[]> = {
  StasisStart: ['channel'],
  StasisEnd: ['channel'],
  ChannelStateChange: ['channel'],
  ChannelDtmfReceived: ['channel'],
  ChannelTalkingStarted: ['channel'],
  ChannelTalkingFinished: ['channel'],
  PlaybackStarted: ['playback'],
  PlaybackFinished: ['playback'],
  ChannelHangupRequest: ['channel'],
  ChannelDestroyed: ['channel'],
  ChannelEnteredBridge: ['bridge'],
  ChannelLeftBridge: ['bridge', 'channel'],
  BridgeDestroyed: ['bridge'],
  Dial: ['peer'],
  ChannelVarset: [],
  EndpointStateChange: [],
  ApplicationReplaced: [],
  // A recording has no id: its name names it (checked below).
  RecordingStarted: [],
  RecordingFinished: [],
  RecordingFailed: [],
};

export type ParsedAriMessage =
  | { kind: 'event'; event: AriEvent }
  | { kind: 'ignored'; type: string }
  | { kind: 'malformed'; reason: string };

/**
 * Reads one WebSocket message. Asterisk may send event types we do not use (ignored) and a
 * broken peer may send anything (malformed): neither may throw into the socket handler.
 */
export function parseAriMessage(data: string): ParsedAriMessage {
  let message: unknown;
  try {
    message = JSON.parse(data);
  } catch {
    return { kind: 'malformed', reason: 'not JSON' };
  }
  if (!isRecord(message) || typeof message.type !== 'string') {
    return { kind: 'malformed', reason: 'no event type' };
  }
  const type = message.type;
  if (!Object.hasOwn(REQUIRED_OBJECTS, type)) return { kind: 'ignored', type };
  for (const field of REQUIRED_OBJECTS[type as AriEventType]) {
    const object = message[field];
    if (!isRecord(object) || typeof object.id !== 'string' || object.id === '') {
      return { kind: 'malformed', reason: `${type} without ${field}.id` };
    }
  }
  if (type === 'EndpointStateChange') {
    // Endpoints have no id: technology and resource name them.
    const endpoint = message.endpoint;
    if (
      !isRecord(endpoint) ||
      typeof endpoint.technology !== 'string' ||
      typeof endpoint.resource !== 'string'
    ) {
      return { kind: 'malformed', reason: 'EndpointStateChange without endpoint.technology/resource' };
    }
  }
  if (type.startsWith('Recording')) {
    const recording = message.recording;
    if (!isRecord(recording) || typeof recording.name !== 'string' || recording.name === '') {
      return { kind: 'malformed', reason: `${type} without recording.name` };
    }
  }
  if (type === 'StasisStart' && !Array.isArray(message.args)) {
    return { kind: 'malformed', reason: 'StasisStart without args' };
  }
  return { kind: 'event', event: message as unknown as AriEvent };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
