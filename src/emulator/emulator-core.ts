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

/** How a channel came to be: a trunk call, an originate from the app, or a snoop on a channel. */
export type ChannelKind = 'inbound' | 'originated' | 'snoop';

/** `POST /channels/{id}/snoop` directions (STASIS_SNOOP_DIRECTION_*). */
export type SnoopDirection = 'none' | 'both' | 'out' | 'in';

/** What a snoop channel was asked for, kept so tests can check it. */
export interface SnoopInfo {
  /** The channel spied on / whispered to. */
  spiedChannelId: string;
  spy: SnoopDirection;
  whisper: SnoopDirection;
}

export interface ChannelRecord {
  id: string;
  name: string;
  /** The endpoint the channel was created on, e.g. `PJSIP/taker1` (chan_pjsip adds it there). */
  endpointId: string;
  protocolId: string;
  state: ChannelStateName;
  caller: AriCallerId;
  connected: AriCallerId;
  dialplan: AriDialplanCep;
  creationtime: string;
  language: string;
  kind: ChannelKind;
  /** Set on snoop channels: the spied channel and the directions requested. */
  snoop: SnoopInfo | undefined;
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
  /** Set on an originated channel while it rings: the person at the phone picks up now. */
  pickUp?: () => void;
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

/** Endpoint states as `ast_endpoint_state_to_string` names them. */
export type EndpointStateName = 'unknown' | 'offline' | 'online';

/**
 * A contact of an AOR and its qualify status (res_pjsip): a phone's registration, or a trunk's
 * static `contact=` (a permanent contact).
 */
export interface ContactRecord {
  uri: string;
  aor: string;
  /** Sorcery id: `<aor>;@<md5 of the uri>` when registered, `<aor>@@<md5 of the uri>` when static. */
  objectName: string;
  /** A static contact from the AOR's configuration: never registered, never in sorcery's store. */
  permanent: boolean;
  status: 'Reachable' | 'Unreachable';
  /** Last qualify round trip; 0 while unreachable. */
  roundtripUsec: number;
  userAgent: string;
  /** Epoch seconds when the registration expires. */
  expirationTime: number;
  callId: string;
  viaAddr: string;
  viaPort: number;
}

/**
 * An Asterisk endpoint. `phone`: a call taker's softphone that registers (one contact);
 * `trunk`: an operator trunk, identified by IP, known once a call arrives on it or declared with
 * a static contact that Asterisk qualifies.
 */
export interface EndpointRecord {
  /** `PJSIP/taker1` (ast_endpoint id: tech/resource). */
  id: string;
  technology: string;
  resource: string;
  kind: 'phone' | 'trunk';
  behaviour: TakerBehaviour | undefined;
  state: EndpointStateName;
  contact: ContactRecord | undefined;
}

/** An AMI event as the manager sends it: name, then ordered fields. */
export interface ManagerEvent {
  event: string;
  /** EVENT_FLAG_* class names, e.g. `system`. */
  privilege: string;
  fields: [string, string][];
}

export type TakerBehaviour =
  | { answer: 'after'; delayMs: number; hangupAfterMs?: number }
  | { answer: 'reject'; cause?: number }
  | { answer: 'never' };

/**
 * Asterisk under load answering one operation late (`AsteriskEmulator.slowDown`): the next `count`
 * requests of it wait `delayMs`, either before they take effect (`request`) or after, the effect
 * being immediate and only the answer late (`reply`).
 */
export interface SlowOperation {
  delayMs: number;
  hold: 'request' | 'reply';
  count: number;
}

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
  kind: ChannelKind;
  /** For snoop channels: what was spied on and in which directions. */
  snoop?: SnoopInfo;
  at: number;
}

export interface ChannelDestroyedObservation {
  channelId: string;
  kind: ChannelKind;
  cause: number;
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
  /** A channel left the emulated Asterisk (hung up, timed out, or the emulator stopped). */
  'channel-destroyed': ChannelDestroyedObservation;
  violation: SpecViolation;
  /** An AMI event Asterisk raised (delivered by the AMI server to logged-in sessions). */
  'manager-event': ManagerEvent;
}

export interface FallbackCall {
  channelId: string;
  from: string;
  trunk: string;
  app: string;
  at: number;
  /** Where the app sent it with `continue` (absent: Stasis() failed, the dialplan's own fallback). */
  dialplan?: { context: string; exten: string; priority: number };
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
  /** Endpoints by id (`PJSIP/taker1`). */
  readonly endpoints = new Map<string, EndpointRecord>();
  /**
   * Endpoint subscriptions per app: endpoint id (`PJSIP/taker1`, or `PJSIP` for the whole
   * technology) → how many times subscribed (res_stasis counts `interested`). They belong to the
   * app, not to its WebSocket: Asterisk keeps them while the app is away and reconnects.
   */
  readonly endpointSubscriptions = new Map<string, Map<string, number>>();
  readonly violations: SpecViolation[] = [];
  /** Operations (`channels.originateWithId`) whose next requests are slow, see SlowOperation. */
  readonly slowOperations = new Map<string, SlowOperation>();
  readonly fallbackCalls: FallbackCall[] = [];
  /** Asterisk's entity id (a MAC address), sent as `asterisk_id`. */
  readonly asteriskId = '02:42:ac:11:00:02';
  /** When this Asterisk (last) started: `startup_time` in GET /asterisk/info. */
  startedAt = new Date();
  #channelSeq = 0;
  #uniqueSeq = 0;
  /** app_snoop.c's own `chan_idx`, counting from 0. */
  #snoopSeq = 0;

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

  /** A duration of the emulated world in real milliseconds, given timeScale. */
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

  /** Snoop channel name as app_snoop.c builds it: `Snoop/<spied uniqueid>-<chan_idx as %08x>`. */
  nextSnoopName(spiedUniqueId: string): string {
    const index = this.#snoopSeq;
    this.#snoopSeq += 1;
    return `Snoop/${spiedUniqueId}-${index.toString(16).padStart(8, '0')}`;
  }

  newChannel(fields: {
    id?: string;
    /** `PJSIP/telkomsel`; '' for a channel on no endpoint (a snoop channel). */
    endpoint: string;
    kind: ChannelKind;
    state: ChannelStateName;
    caller: AriCallerId;
    connected: AriCallerId;
    dialplan: AriDialplanCep;
    app?: string;
    /** Overrides the chan_pjsip name (snoop channels). */
    name?: string;
    /** Overrides the SIP Call-ID (channels with no SIP dialog have ''). */
    protocolId?: string;
    snoop?: SnoopInfo;
  }): ChannelRecord {
    const channel: ChannelRecord = {
      id: fields.id ?? this.nextUniqueId(),
      name: fields.name ?? this.nextChannelName(fields.endpoint),
      endpointId: fields.endpoint,
      protocolId: fields.protocolId ?? `${randomUUID()}`,
      state: fields.state,
      caller: fields.caller,
      connected: fields.connected,
      dialplan: fields.dialplan,
      creationtime: asteriskTimestamp(),
      language: 'en',
      kind: fields.kind,
      snoop: fields.snoop,
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
      ...(channel.snoop ? { snoop: { ...channel.snoop } } : {}),
      at: performance.now(),
    });
    // Apps subscribed to the endpoint hear the channel from its creation (an originating app
    // subscribes to the channel only after it exists, so it misses ChannelCreated); then
    // ast_endpoint_add_channel publishes the endpoint's new snapshot.
    this.emitEvent(this.endpointSubscribers(channel.endpointId), {
      type: 'ChannelCreated',
      channel: this.channelJson(channel),
    });
    this.publishEndpointSnapshot(channel.endpointId);
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

  /**
   * Sends a channel event to the app that hears about the channel (if any) and, unless
   * `ownerOnly` (StasisStart goes to the app's own topic), to apps subscribed to the channel's
   * endpoint: Asterisk forwards a channel's topic to its endpoint's topic.
   */
  emitChannelEvent(
    channel: ChannelRecord,
    body: { type: string } & Record<string, unknown>,
    ownerOnly = false,
  ): void {
    const apps = ownerOnly ? [channel.app] : this.channelAudience(channel);
    this.emitEvent(apps, { ...body, channel: this.channelJson(channel) });
  }

  /** The channel's app and the apps subscribed to its endpoint or to the endpoint's technology. */
  channelAudience(channel: ChannelRecord): (string | undefined)[] {
    return [channel.app, ...this.endpointSubscribers(channel.endpointId)];
  }

  /** Apps subscribed to `endpointId` (`PJSIP/taker1`) or to its whole technology (`PJSIP`). */
  endpointSubscribers(endpointId: string): string[] {
    if (endpointId === '') return [];
    const technology = endpointId.slice(0, endpointId.indexOf('/'));
    const apps: string[] = [];
    for (const [app, ids] of this.endpointSubscriptions) {
      if ((ids.get(endpointId) ?? 0) > 0 || (ids.get(technology) ?? 0) > 0) apps.push(app);
    }
    return apps;
  }

  /** `ast_endpoint_snapshot_to_json`: channel_ids are the endpoint's live channels. */
  endpointJson(endpoint: EndpointRecord): Record<string, unknown> {
    return {
      technology: endpoint.technology,
      resource: endpoint.resource,
      state: endpoint.state,
      channel_ids: [...this.channels.values()].filter((c) => c.endpointId === endpoint.id).map((c) => c.id),
    };
  }

  /**
   * `endpoint_publish_snapshot`: every new snapshot (state change, channel added or removed)
   * reaches subscribed apps as EndpointStateChange (res_stasis app.c sub_endpoint_update_handler).
   */
  publishEndpointSnapshot(endpointId: string): void {
    const endpoint = this.endpoints.get(endpointId);
    if (!endpoint) return;
    this.emitEvent(this.endpointSubscribers(endpointId), {
      type: 'EndpointStateChange',
      endpoint: this.endpointJson(endpoint),
    });
  }

  /** Raises an AMI event (EVENT_FLAG_SYSTEM unless told). */
  emitManagerEvent(event: string, fields: [string, string][], privilege = 'system'): void {
    this.observations.emit('manager-event', { event, privilege, fields });
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
