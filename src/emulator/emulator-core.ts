/**
 * The emulated Asterisk's state (channels, bridges, playbacks, endpoints) and its event dispatch.
 * Lifecycle rules live in their own modules (channel-lifecycle, bridges, playbacks, ...); this
 * file only holds the data and the plumbing they share.
 */
import { randomUUID } from 'node:crypto';
import type {
  AriBridge,
  AriCallerId,
  AriChannel,
  AriDialplanCep,
  AriPlayback,
  ChannelStateName,
  PlaybackStateName,
} from '../ari/ari-models.ts';
import type { AriSpec } from './ari-spec.ts';
import { asteriskTimestamp } from './asterisk-format.ts';
import { validateEvent } from './event-validator.ts';
import type { TimerRegistry } from './timer-registry.ts';
import type { TypedEmitter } from './typed-emitter.ts';

/**
 * Who ended a channel: its remote party (caller or taker phone), the ARI app (DELETE), Asterisk
 * itself (dial timeout, fallback dialplan) or the emulator's stop().
 */
export type EndParty = 'remote' | 'app' | 'asterisk' | 'shutdown';

export interface ChannelEnd {
  by: EndParty;
  cause: number;
}

export interface ChannelRecord {
  id: string;
  name: string;
  protocolId: string;
  state: ChannelStateName;
  caller: AriCallerId;
  connected: AriCallerId;
  dialplan: AriDialplanCep;
  creationtime: string;
  language: string;
  kind: 'inbound' | 'originated';
  /** The app that hears about this channel (originated: from creation; inbound: while in Stasis). */
  app: string | undefined;
  inStasis: boolean;
  stasisArgs: string[];
  vars: Map<string, string>;
  talkDetect: boolean;
  bridgeId: string | undefined;
  moh: boolean;
  gone: boolean;
  /** An originated channel still being dialled (not yet answered). */
  dialing: boolean;
  /** What was dialled (`taker1` for `PJSIP/taker1`), for Dial events. */
  dialstring: string;
  /** Has shared a bridge with another channel (the caller reached someone). */
  peerBridged: boolean;
  /** Set by the virtual caller / taker that owns the channel. */
  onAnswered?: () => void;
  onEnded?: (end: ChannelEnd) => void;
  /** Talk detection bookkeeping (talk-detection.ts). */
  talk: TalkState;
}

export interface TalkState {
  speaking: boolean;
  /** performance.now() when the current burst of speech began (undefined when silent). */
  burstStart: number | undefined;
  /** ChannelTalkingStarted was sent for the current burst. */
  reported: boolean;
  startTimer: NodeJS.Timeout | undefined;
  finishTimer: NodeJS.Timeout | undefined;
  /** performance.now() when the speech last stopped. */
  lastStop: number | undefined;
}

export interface BridgeRecord {
  id: string;
  name: string;
  bridgeType: 'mixing' | 'holding';
  creationtime: string;
  channels: string[];
  /** Apps subscribed to the bridge: those whose channels have been in it. */
  apps: Set<string>;
}

export interface PlaybackRecord {
  id: string;
  media: string[];
  index: number;
  channelId: string;
  language: string;
  state: PlaybackStateName;
}

export type TakerBehaviour =
  | { answer: 'after'; delayMs: number; hangupAfterMs?: number }
  | { answer: 'reject'; cause?: number }
  | { answer: 'never' };

export interface RequestObservation {
  method: string;
  path: string;
  /** `channels.answer` when the request matched a spec operation. */
  operation: string | undefined;
  status: number;
  receivedAt: number;
  answeredAt: number;
}

export interface EventObservation {
  app: string;
  event: Record<string, unknown>;
  sentAt: number;
}

export interface ChannelCreatedObservation {
  channel: AriChannel;
  kind: 'inbound' | 'originated';
  at: number;
}

export interface SpecViolation {
  kind: 'event' | 'response' | 'request';
  where: string;
  errors: string[];
  payload: unknown;
}

/** Observation events for tests and benchmarks; timestamps are performance.now(). */
export interface EmulatorObservations {
  request: RequestObservation;
  event: EventObservation;
  'channel-created': ChannelCreatedObservation;
  violation: SpecViolation;
}

export interface FallbackCall {
  channelId: string;
  from: string;
  trunk: string;
  app: string;
  at: number;
}

/** Delivers an event to whichever WebSocket holds `app`; false when none does (event dropped). */
export type EventSender = (app: string, json: string) => boolean;

export interface CoreOptions {
  spec: AriSpec;
  timers: TimerRegistry;
  observations: TypedEmitter<EmulatorObservations>;
  sounds: Record<string, number>;
  timeScale: number;
  validateEvents: boolean;
  send: EventSender;
  isAppRegistered: (app: string) => boolean;
}

export class EmulatorCore {
  readonly spec: AriSpec;
  readonly timers: TimerRegistry;
  readonly observations: TypedEmitter<EmulatorObservations>;
  readonly sounds: Record<string, number>;
  readonly timeScale: number;
  readonly validateEvents: boolean;
  readonly send: EventSender;
  readonly isAppRegistered: (app: string) => boolean;
  readonly channels = new Map<string, ChannelRecord>();
  readonly bridges = new Map<string, BridgeRecord>();
  readonly playbacks = new Map<string, PlaybackRecord>();
  readonly endpoints = new Map<string, TakerBehaviour>();
  readonly violations: SpecViolation[] = [];
  readonly fallbackCalls: FallbackCall[] = [];
  /** Asterisk's entity id (a MAC address), sent as `asterisk_id`. */
  readonly asteriskId = '02:42:ac:11:00:02';
  readonly startedAt = new Date();
  #channelSeq = 0;
  #uniqueSeq = 0;

  constructor(options: CoreOptions) {
    this.spec = options.spec;
    this.timers = options.timers;
    this.observations = options.observations;
    this.sounds = options.sounds;
    this.timeScale = options.timeScale;
    this.validateEvents = options.validateEvents;
    this.send = options.send;
    this.isAppRegistered = options.isAppRegistered;
  }

  /** A scripted (caller/taker) duration in real milliseconds, given timeScale. */
  scaled(ms: number): number {
    return ms / this.timeScale;
  }

  /** Asterisk uniqueid: creation epoch seconds and a running number, e.g. `1763890407.42`. */
  nextUniqueId(): string {
    this.#uniqueSeq += 1;
    return `${Math.floor(Date.now() / 1000)}.${this.#uniqueSeq}`;
  }

  /** Channel name as chan_pjsip builds it: `PJSIP/telkomsel-0000002a`. */
  nextChannelName(endpoint: string): string {
    this.#channelSeq += 1;
    return `${endpoint}-${this.#channelSeq.toString(16).padStart(8, '0')}`;
  }

  newChannel(fields: {
    id?: string;
    endpoint: string;
    kind: 'inbound' | 'originated';
    state: ChannelStateName;
    caller: AriCallerId;
    connected: AriCallerId;
    dialplan: AriDialplanCep;
    app?: string;
  }): ChannelRecord {
    const channel: ChannelRecord = {
      id: fields.id ?? this.nextUniqueId(),
      name: this.nextChannelName(fields.endpoint),
      protocolId: `${randomUUID()}`,
      state: fields.state,
      caller: fields.caller,
      connected: fields.connected,
      dialplan: fields.dialplan,
      creationtime: asteriskTimestamp(),
      language: 'en',
      kind: fields.kind,
      app: fields.app,
      inStasis: false,
      stasisArgs: [],
      vars: new Map(),
      talkDetect: false,
      bridgeId: undefined,
      moh: false,
      gone: false,
      dialing: false,
      dialstring: '',
      peerBridged: false,
      talk: {
        speaking: false,
        burstStart: undefined,
        reported: false,
        startTimer: undefined,
        finishTimer: undefined,
        lastStop: undefined,
      },
    };
    this.channels.set(channel.id, channel);
    this.observations.emit('channel-created', {
      channel: this.channelJson(channel),
      kind: channel.kind,
      at: performance.now(),
    });
    return channel;
  }

  channelJson(channel: ChannelRecord): AriChannel {
    return {
      id: channel.id,
      name: channel.name,
      state: channel.state,
      protocol_id: channel.protocolId,
      caller: { ...channel.caller },
      connected: { ...channel.connected },
      accountcode: '',
      dialplan: { ...channel.dialplan },
      creationtime: channel.creationtime,
      language: channel.language,
    };
  }

  bridgeJson(bridge: BridgeRecord): AriBridge {
    return {
      id: bridge.id,
      technology: bridge.channels.length > 2 ? 'softmix' : 'simple_bridge',
      bridge_type: bridge.bridgeType,
      bridge_class: 'stasis',
      creator: 'Stasis',
      name: bridge.name,
      channels: [...bridge.channels],
      creationtime: bridge.creationtime,
      video_mode: 'none',
    };
  }

  playbackJson(playback: PlaybackRecord): AriPlayback {
    const next = playback.media[playback.index + 1];
    return {
      id: playback.id,
      media_uri: playback.media[playback.index] ?? '',
      ...(next !== undefined ? { next_media_uri: next } : {}),
      target_uri: `channel:${playback.channelId}`,
      language: playback.language,
      state: playback.state,
    };
  }

  /**
   * Sends an event to each distinct app given (undefined entries skipped), stamping `timestamp`,
   * `asterisk_id` and `application`. Apps with no WebSocket lose the event, as in Asterisk.
   */
  emitEvent(apps: Iterable<string | undefined>, body: { type: string } & Record<string, unknown>): void {
    const seen = new Set<string>();
    for (const app of apps) {
      if (app === undefined || seen.has(app)) continue;
      seen.add(app);
      const event: Record<string, unknown> = {
        ...body,
        timestamp: asteriskTimestamp(),
        asterisk_id: this.asteriskId,
        application: app,
      };
      if (this.validateEvents) {
        const errors = validateEvent(this.spec, event);
        if (errors.length > 0)
          this.recordViolation({ kind: 'event', where: body.type, errors, payload: event });
      }
      if (this.send(app, JSON.stringify(event))) {
        this.observations.emit('event', { app, event, sentAt: performance.now() });
      }
    }
  }

  /** Sends a channel event to the app that hears about the channel (if any). */
  emitChannelEvent(channel: ChannelRecord, body: { type: string } & Record<string, unknown>): void {
    this.emitEvent([channel.app], { ...body, channel: this.channelJson(channel) });
  }

  recordViolation(violation: SpecViolation): void {
    this.violations.push(violation);
    this.observations.emit('violation', violation);
  }

  /** Apps' view used by GET /applications. */
  appChannelIds(app: string): string[] {
    return [...this.channels.values()].filter((c) => c.app === app).map((c) => c.id);
  }

  appBridgeIds(app: string): string[] {
    return [...this.bridges.values()].filter((b) => b.apps.has(app)).map((b) => b.id);
  }
}
