/**
 * An in-process Asterisk 22 for tests, the demo and benchmarks: a real HTTP + WebSocket server
 * speaking ARI as ../shared/asterisk-ari specifies and behaving as OBSERVED.md records, with
 * virtual callers on operator trunks and virtual call-taker phones. Anything it lets through that
 * real Asterisk would not is a bug.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AriBridge, AriChannel, AriPlayback } from '../ari/ari-models.ts';
import { ariHandlers } from './ari-handlers.ts';
import { createRequestListener, createUpgradeListener } from './ari-http.ts';
import { defaultSpecDir, loadAriSpec } from './ari-spec.ts';
import { asteriskTimestamp } from './asterisk-format.ts';
import { endChannel } from './channel-lifecycle.ts';
import {
  EmulatorCore,
  type EmulatorObservations,
  type FallbackCall,
  type SpecViolation,
  type TakerBehaviour,
} from './emulator-core.ts';
import { EventsHub } from './events-socket.ts';
import { type InboundCall, type PlaceCallOptions, placeInboundCall } from './inbound-caller.ts';
import { type ImplementedOperation, SpecRouter } from './spec-router.ts';
import { TimerRegistry } from './timer-registry.ts';
import { TypedEmitter } from './typed-emitter.ts';

export type {
  ChannelCreatedObservation,
  EmulatorObservations,
  EventObservation,
  FallbackCall,
  RequestObservation,
  SpecViolation,
  TakerBehaviour,
} from './emulator-core.ts';
export type { CallEnded, CallerStep, CallOutcome, InboundCall, PlaceCallOptions } from './inbound-caller.ts';

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
   * >1 runs scripted timings faster: caller steps, patience, taker answer/hang-up delays and the
   * talk-detection latencies. Asterisk-side durations the app chooses (originate timeout) and
   * sound durations are not scaled. Default 1.
   */
  timeScale?: number;
  /** Validate every event sent against events.json; violations are collected. Default true. */
  validateEvents?: boolean;
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
  /** Declares a call-taker phone, e.g. `PJSIP/taker1`. */
  setEndpoint(resource: string, behaviour: TakerBehaviour): void;
  removeEndpoint(resource: string): void;
  /** A call arrives on a trunk into `Stasis(app)` (or its fallback, when no app is connected). */
  placeCall(options: PlaceCallOptions): InboundCall;
  /** The far end of any channel hangs up; false when the channel does not exist. */
  hangupChannel(channelId: string, cause?: number): boolean;
  /** Closes every events WebSocket abruptly (network drop); channels stay in Stasis. */
  dropWebSockets(): void;
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
  const router = new SpecRouter(
    spec,
    ariHandlers(() => hub.registeredApps()),
  );
  const deps = { core: live, router, hub, username: options.username, password: options.password };
  const server = createServer(createRequestListener(deps));
  server.on('upgrade', createUpgradeListener(deps));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let stopped: Promise<void> | undefined;

  return {
    url: `http://${host}:${address.port}`,
    violations: live.violations,
    fallbackCalls: live.fallbackCalls,
    implementedOperations: router.implemented,
    on: (name, listener) => observations.on(name, listener),
    setEndpoint: (resource, behaviour) => {
      live.endpoints.set(resource, behaviour);
    },
    removeEndpoint: (resource) => {
      live.endpoints.delete(resource);
    },
    placeCall: (callOptions) => placeInboundCall(live, callOptions),
    hangupChannel(channelId, cause = 16) {
      const channel = live.channels.get(channelId);
      if (!channel) return false;
      endChannel(live, channel, { by: 'remote', cause, request: 'remote' });
      return true;
    },
    dropWebSockets: () => hub.dropAll(),
    snapshot: () => ({
      channels: [...live.channels.values()].map((c) => live.channelJson(c)),
      bridges: [...live.bridges.values()].map((b) => live.bridgeJson(b)),
      playbacks: [...live.playbacks.values()].map((p) => live.playbackJson(p)),
    }),
    stop() {
      stopped ??= (async () => {
        timers.clearAll();
        await hub.close();
        for (const channel of [...live.channels.values()]) {
          channel.gone = true;
          live.channels.delete(channel.id);
          channel.onEnded?.({ by: 'shutdown', cause: 16 });
        }
        live.bridges.clear();
        live.playbacks.clear();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        timers.clearAll();
      })();
      return stopped;
    },
  };
}
