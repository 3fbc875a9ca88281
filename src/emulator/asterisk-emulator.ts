/**
 * An in-process Asterisk 22 for tests, the demo and benchmarks: a real HTTP + WebSocket server
 * speaking ARI as ../shared/asterisk-ari specifies and behaving as OBSERVED.md records, with
 * virtual callers on operator trunks and virtual call-taker phones. Anything it lets through that
 * real Asterisk would not is a bug.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AriBridge, AriChannel, AriPlayback } from '../ari/ari-models.ts';
import { type AmiServer, startAmiServer } from './ami-server.ts';
import { ariHandlers } from './ari-handlers.ts';
import { createRequestListener, createUpgradeListener } from './ari-http.ts';
import { defaultSpecDir, loadAriSpec, operationKey } from './ari-spec.ts';
import { asteriskTimestamp } from './asterisk-format.ts';
import { endChannel } from './channel-lifecycle.ts';
import {
  EmulatorCore,
  type EmulatorObservations,
  type FallbackCall,
  type SpecViolation,
  type TakerBehaviour,
} from './emulator-core.ts';
import { declarePhone, declareTrunk, removeEndpoint, setContactReachable } from './endpoints.ts';
import { EventsHub } from './events-socket.ts';
import { type InboundCall, type PlaceCallOptions, placeInboundCall } from './inbound-caller.ts';
import { attachRecordings, type RecordingFault, vanishRecordings } from './recording-state.ts';
import { type ImplementedOperation, SpecRouter } from './spec-router.ts';
import { TimerRegistry } from './timer-registry.ts';
import { TypedEmitter } from './typed-emitter.ts';

export type {
  ChannelCreatedObservation,
  ChannelDestroyedObservation,
  ChannelKind,
  EmulatorObservations,
  EventObservation,
  FallbackCall,
  ManagerEvent,
  RequestObservation,
  SnoopDirection,
  SnoopInfo,
  SpecViolation,
  TakerBehaviour,
} from './emulator-core.ts';
export type { CallEnded, CallerStep, CallOutcome, InboundCall, PlaceCallOptions } from './inbound-caller.ts';
export type { RecordingFault } from './recording-state.ts';

export interface EmulatorOptions {
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  /** The ARI user (ari.conf). */
  username: string;
  password: string;
  /** Default: `<repo>/../shared/asterisk-ari`. */
  specDir?: string;
  /** Media name (`sound:siaga112/greeting`) → duration in ms; other media fail as Asterisk does. */
  sounds?: Record<string, number>;
  /**
   * >1 runs the emulated world faster: caller steps, patience, taker answer/hang-up delays,
   * talk-detection latencies, sound durations and originate timeouts (a replay runs the service
   * on a clock of the same rate). Default 1.
   */
  timeScale?: number;
  /** Validate every event sent against events.json; violations are collected. Default true. */
  validateEvents?: boolean;
  /** Also serve AMI (manager.conf user) on its own TCP port; default: no AMI. */
  ami?: { username: string; secret: string; host?: string; port?: number };
  /** Asterisk's recording directory (ARI recordings are written here); default: a temporary one, removed on stop. */
  recordingsDir?: string;
}

export interface EmulatorSnapshot {
  channels: AriChannel[];
  bridges: AriBridge[];
  playbacks: AriPlayback[];
}

export interface AsteriskEmulator {
  /** e.g. `http://127.0.0.1:40123`; ARI lives under `/ari`. */
  readonly url: string;
  /** Spec violations seen: events, responses and requests not matching the spec. */
  readonly violations: readonly SpecViolation[];
  /** Calls whose `Stasis()` failed because no WebSocket held the app. */
  readonly fallbackCalls: readonly FallbackCall[];
  /** The spec operations this emulator implements and the parameters each reads. */
  readonly implementedOperations: readonly ImplementedOperation[];
  /** Observation events (request, event, channel-created, violation); returns the unsubscribe function. */
  on<K extends keyof EmulatorObservations>(
    name: K,
    listener: (payload: EmulatorObservations[K]) => void,
  ): () => void;
  /** Where AMI listens, when started with `ami`. */
  readonly ami: { host: string; port: number } | undefined;
  /** Where recordings are written (`astspooldir/recording`): `<name>.wav` per recording. */
  readonly recordingsDir: string;
  /** From now on, every recording request meets this fault (see RecordingFault); null: none. */
  setRecordingFault(fault: RecordingFault | null): void;
  /**
   * Declares a call-taker phone, e.g. `PJSIP/taker1`: registered and reachable (online). For a
   * phone already declared, only its answering behaviour changes.
   */
  setEndpoint(endpoint: string, behaviour: TakerBehaviour): void;
  /**
   * Declares an operator trunk, e.g. `PJSIP/telkomsel`, whose AOR has a static contact that
   * Asterisk qualifies (default URI: an address of 198.51.100.0/24): reachable (online) at first.
   */
  declareTrunk(endpoint: string, contactUri?: string): void;
  /** Removes the endpoint from the configuration (its contact is removed first). */
  removeEndpoint(endpoint: string): void;
  /**
   * The phone's registered contact, or the trunk's static one, answers qualify again (true) or
   * stops answering (false): the endpoint goes online/offline with EndpointStateChange,
   * PeerStatusChange and ContactStatusChange to subscribed apps and PeerStatus + ContactStatus on
   * AMI. An unreachable phone cannot be originated to (500, as in Asterisk). False when the
   * endpoint has no contact (not declared, or a trunk known only from its calls).
   */
  setEndpointReachable(endpoint: string, reachable: boolean): boolean;
  /** A call arrives on a trunk into `Stasis(app)` (or its fallback, when no app is connected). */
  placeCall(options: PlaceCallOptions): InboundCall;
  /** The far end of any channel hangs up; false when the channel does not exist. */
  hangupChannel(channelId: string, cause?: number): boolean;
  /**
   * The phone an originated channel rings is picked up now, whatever its behaviour said: Dial
   * ANSWER, Up, StasisStart. False when no such channel is ringing.
   */
  pickUp(channelId: string): boolean;
  /**
   * Asterisk under load: the next `count` (default 1) requests of `operation` (`resource.nickname`,
   * e.g. `channels.originateWithId`) wait `delayMs`. `hold: 'reply'`: each takes effect at once
   * (an originate's channel exists and rings) and only its answer is late; `'request'`: each takes
   * effect late, then is answered at once. What is answered is unchanged.
   */
  slowDown(operation: string, options: { delayMs: number; hold: 'request' | 'reply'; count?: number }): void;
  /** Closes every events WebSocket abruptly (network drop); channels stay in Stasis. */
  dropWebSockets(): void;
  /**
   * Test hook, not part of ARI: sends `frame` exactly as given (any text, or bytes as a binary
   * frame; valid or not, duplicated, out of order) over the events WebSocket holding `app`, as a
   * broken or hostile peer would. Nothing is validated or recorded. False when no socket holds `app`.
   */
  injectEventFrame(app: string, frame: string | Buffer): boolean;
  /** Closes every AMI connection abruptly (network drop). */
  dropAmiConnections(): void;
  /**
   * Asterisk restarts, or dies and is started again: every events WebSocket and AMI connection
   * drops, and every channel, bridge and playback is gone with no event reaching any app (the
   * worst case for a client: a crash, or a `core restart now` whose last events never left).
   * ARI and AMI refuse connections for `downMs` (default 300), then listen on the same ports
   * again with a new startup time, no app registered and no app subscribed to anything.
   * Endpoints keep their configuration and registrations (res_pjsip keeps contacts in astdb).
   * Channel ids never repeat: Asterisk's carry the epoch second they were made in. Placing a
   * call while it is down throws. Resolves once it listens again.
   */
  restart(options?: { downMs?: number }): Promise<void>;
  /** Channels, bridges and playbacks currently alive. */
  snapshot(): EmulatorSnapshot;
  /** Closes everything (sockets, timers, server); resolves when closed. */
  stop(): Promise<void>;
}

export async function startAsteriskEmulator(options: EmulatorOptions): Promise<AsteriskEmulator> {
  const spec = loadAriSpec(options.specDir ?? defaultSpecDir());
  const timers = new TimerRegistry();
  const observations = new TypedEmitter<EmulatorObservations>();
  let core: EmulatorCore | undefined;
  const hub = new EventsHub({
    replacedEvent: (app) =>
      JSON.stringify({
        type: 'ApplicationReplaced',
        timestamp: asteriskTimestamp(),
        asterisk_id: core?.asteriskId,
        application: app,
      }),
  });
  core = new EmulatorCore({
    spec,
    timers,
    observations,
    sounds: { ...options.sounds },
    timeScale: options.timeScale ?? 1,
    validateEvents: options.validateEvents ?? true,
    send: (app, json) => hub.send(app, json),
    isAppRegistered: (app) => hub.isRegistered(app),
  });
  const live = core;
  const recordings = attachRecordings(live, options.recordingsDir);
  const router = new SpecRouter(
    spec,
    ariHandlers(() => hub.registeredApps()),
  );
  const deps = { core: live, router, hub, username: options.username, password: options.password };
  const server = createServer(createRequestListener(deps));
  server.on('upgrade', createUpgradeListener(deps));
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  const closeServer = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  await listen(options.port ?? 0);
  let amiServer: AmiServer | undefined;
  try {
    if (options.ami) amiServer = await startAmiServer(live, options.ami);
  } catch (error) {
    server.close();
    throw error;
  }
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const amiPort = amiServer?.port;
  let stopped: Promise<void> | undefined;
  let restarting: Promise<void> | undefined;
  /** Every channel leaves at once, as when Asterisk stops: no event reaches any app. */
  const vanishAll = () => {
    timers.clearAll();
    for (const channel of [...live.channels.values()]) {
      channel.gone = true;
      live.channels.delete(channel.id);
      observations.emit('channel-destroyed', {
        channelId: channel.id,
        kind: channel.kind,
        cause: 16,
        at: performance.now(),
      });
      channel.onEnded?.({ by: 'shutdown', cause: 16 });
    }
    live.bridges.clear();
    live.playbacks.clear();
    vanishRecordings(live);
  };

  return {
    url: `http://${host}:${address.port}`,
    violations: live.violations,
    fallbackCalls: live.fallbackCalls,
    implementedOperations: router.implemented,
    on: (name, listener) => observations.on(name, listener),
    ami: amiServer ? { host: amiServer.host, port: amiServer.port } : undefined,
    recordingsDir: recordings.dir,
    setRecordingFault: (fault) => {
      recordings.fault = fault;
    },
    setEndpoint: (endpoint, behaviour) => declarePhone(live, endpoint, behaviour),
    removeEndpoint: (endpoint) => removeEndpoint(live, endpoint),
    declareTrunk: (endpoint, contactUri) => declareTrunk(live, endpoint, contactUri),
    setEndpointReachable: (endpoint, reachable) => setContactReachable(live, endpoint, reachable),
    placeCall(callOptions) {
      if (restarting) throw new Error('the emulated Asterisk is restarting: no call can arrive');
      return placeInboundCall(live, callOptions);
    },
    hangupChannel(channelId, cause = 16) {
      const channel = live.channels.get(channelId);
      if (!channel) return false;
      endChannel(live, channel, { by: 'remote', cause, request: 'remote' });
      return true;
    },
    pickUp(channelId) {
      const channel = live.channels.get(channelId);
      if (!channel?.dialing || channel.state !== 'Ringing' || !channel.pickUp) return false;
      channel.pickUp();
      return true;
    },
    slowDown(operation, { delayMs, hold, count = 1 }) {
      if (!router.implemented.some((op) => operationKey(op) === operation)) {
        throw new Error(`the emulator does not implement ${operation}`);
      }
      live.slowOperations.set(operation, { delayMs, hold, count });
    },
    dropWebSockets: () => hub.dropAll(),
    injectEventFrame: (app, frame) => hub.send(app, frame),
    dropAmiConnections: () => amiServer?.dropConnections(),
    restart({ downMs = 300 } = {}) {
      if (stopped) return Promise.reject(new Error('the emulator has stopped'));
      restarting ??= (async () => {
        hub.dropAll();
        await amiServer?.close();
        await closeServer();
        vanishAll();
        // The registry of apps is in memory: their subscriptions are gone with it.
        live.endpointSubscriptions.clear();
        await new Promise((resolve) => setTimeout(resolve, downMs));
        if (stopped) return;
        live.startedAt = new Date();
        await listen(address.port);
        if (options.ami) amiServer = await startAmiServer(live, { ...options.ami, port: amiPort });
      })().finally(() => {
        restarting = undefined;
      });
      return restarting;
    },
    snapshot: () => ({
      channels: [...live.channels.values()].map((c) => live.channelJson(c)),
      bridges: [...live.bridges.values()].map((b) => live.bridgeJson(b)),
      playbacks: [...live.playbacks.values()].map((p) => live.playbackJson(p)),
    }),
    stop() {
      stopped ??= (async () => {
        timers.clearAll();
        await restarting?.catch(() => undefined);
        await hub.close();
        await amiServer?.close();
        vanishAll();
        if (server.listening) await closeServer();
        timers.clearAll();
        recordings.dispose();
      })();
      return stopped;
    },
  };
}
