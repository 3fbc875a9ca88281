import type { AriBridge, AriChannel, AriEndpoint, AriEvent, AriLiveRecording } from './ari-models.ts';

/**
 * What went wrong with an ARI request, as a stable code. Asterisk answers with an HTTP status and a
 * free-text message; callers branch on `code`, never on the text.
 */
export type AriErrorCode =
  | 'not-found' // 404: the channel, bridge or playback is gone (normal during hangup races)
  | 'not-in-stasis' // 409 on a channel, 422 on addChannel: it left our app
  | 'exists' // 409 on originate: a channel with the id we chose exists already
  | 'invalid' // 400: a parameter Asterisk rejected
  | 'precondition' // 412: e.g. the channel is not in a state for that operation
  | 'asterisk' // 5xx: Asterisk failed (allocation failed, media could not be queued)
  | 'unavailable' // not sent: no connection to Asterisk
  // Sent, and no answer came (timed out, or the connection dropped): Asterisk may have done it.
  | 'no-reply';

export class AriError extends Error {
  readonly code: AriErrorCode;
  readonly status: number | undefined;
  readonly operation: string;

  constructor(operation: string, code: AriErrorCode, status: number | undefined, message: string) {
    super(`${operation}: ${message}`);
    this.name = 'AriError';
    this.operation = operation;
    this.code = code;
    this.status = status;
  }
}

export const isAriError = (error: unknown, code?: AriErrorCode): error is AriError =>
  error instanceof AriError && (code === undefined || error.code === code);

export interface OriginateRequest {
  /** e.g. `PJSIP/taker1` */
  endpoint: string;
  /** The id the new channel gets; we choose it so the call state knows it before Asterisk answers. */
  channelId: string;
  /** Stasis arguments the answered channel arrives with (`StasisStart.args`). */
  appArgs: string[];
  /** Seconds the phone rings before Asterisk gives up (ChannelDestroyed, cause 19). */
  timeoutSeconds: number;
  callerId?: string;
  /** Channel variables set on the new channel. */
  variables?: Record<string, string>;
}

/** Audio directions of a snoop channel (`spy` / `whisper` of `POST /channels/{id}/snoop`). */
export type SnoopDirection = 'none' | 'both' | 'out' | 'in';

export interface SnoopRequest {
  /** The channel to spy on / whisper to. */
  channelId: string;
  /** The id the snoop channel gets. */
  snoopId: string;
  /** Which audio of the channel the snoop channel hears: `in` = from it, `out` = to it. */
  spy: SnoopDirection;
  /** Which way the snoop channel's audio is injected; at least one of spy/whisper is not `none`. */
  whisper: SnoopDirection;
  /** Stasis arguments the snoop channel arrives with (`StasisStart.args`). */
  appArgs: string[];
}

/**
 * A recording to start. A channel's records what the channel says, not what it hears, and
 * Asterisk refuses to bridge a channel while it is being recorded; a bridge's records the mix.
 */
export interface RecordRequest {
  target: { kind: 'channel' | 'bridge'; id: string };
  /** The file's name under Asterisk's recording directory, without the extension. */
  name: string;
  /** A format Asterisk writes natively, e.g. `wav`. */
  format: string;
}

/** A place in Asterisk's dialplan (`context,exten,priority`). */
export interface DialplanTarget {
  context: string;
  extension: string;
  priority: number;
}

export type ConnectionState = 'connected' | 'disconnected';

export type AriListener = (event: AriEvent) => void;

/**
 * The narrow port through which siaga112 drives Asterisk. Only `src/ari/` implements it; the call
 * flow depends on nothing else. Every method rejects with an {@link AriError}.
 */
export interface AriPort {
  /** The Stasis application name this port is registered as. */
  readonly app: string;

  /** Every event of the application, in the order Asterisk sent them. */
  onEvent(listener: AriListener): () => void;
  /** Told on every (re)connection of the events WebSocket and every loss of it. */
  onConnectionChange(listener: (state: ConnectionState) => void): () => void;
  readonly connected: boolean;

  answer(channelId: string): Promise<void>;
  hangup(channelId: string, reason?: 'normal' | 'busy' | 'congestion' | 'no_answer'): Promise<void>;
  /** The channel leaves our application (StasisEnd) and the dialplan carries on at `target`. */
  continueInDialplan(channelId: string, target: DialplanTarget): Promise<void>;
  /** Plays `media` (e.g. `sound:siaga112/greeting`) under the playback id we chose. */
  play(channelId: string, playbackId: string, media: string[], lang?: string): Promise<void>;
  stopPlayback(playbackId: string): Promise<void>;
  startMoh(channelId: string, mohClass?: string): Promise<void>;
  stopMoh(channelId: string): Promise<void>;
  setVariable(channelId: string, variable: string, value: string): Promise<void>;
  originate(request: OriginateRequest): Promise<AriChannel>;
  /** Creates a snoop channel on a channel; it enters our application at once (StasisStart, Up). */
  snoop(request: SnoopRequest): Promise<AriChannel>;
  createBridge(bridgeId: string, name: string): Promise<AriBridge>;
  addChannels(bridgeId: string, channelIds: string[]): Promise<void>;
  removeChannels(bridgeId: string, channelIds: string[]): Promise<void>;
  destroyBridge(bridgeId: string): Promise<void>;
  /**
   * Starts a recording (201: queued; RecordingStarted follows). Never overwrites: a name in use
   * is refused (409). No duration or silence limit: the recording lasts as long as its target.
   */
  record(request: RecordRequest): Promise<AriLiveRecording>;
  /** Ends a live recording, keeping its file (RecordingFinished follows). */
  stopRecording(name: string): Promise<void>;
  getChannel(channelId: string): Promise<AriChannel>;
  /** Ids of the channels currently in our Stasis application (`GET /applications/{app}`). */
  listApplicationChannelIds(): Promise<string[]>;
  listBridges(): Promise<AriBridge[]>;
  /** Every endpoint with its state (`GET /endpoints`): softphone presence at (re)connect. */
  listEndpoints(): Promise<AriEndpoint[]>;
  /** Subscribes our application to an event source, e.g. `endpoint:PJSIP` for every PJSIP endpoint. */
  subscribe(eventSource: string): Promise<void>;
  /**
   * When the Asterisk we talk to started (`status.startup_time` of `GET /asterisk/info`): a new
   * value means it restarted, and every channel it had is gone.
   */
  startupTime(): Promise<string>;

  /** Opens the events WebSocket and keeps it open (reconnecting) until pause() or close(). */
  start(): Promise<void>;
  /** Closes the events WebSocket (this instance stops owning the app); REST stays usable. */
  pause(): Promise<void>;
  close(): Promise<void>;
}
