import type { AriChannel, AriEvent, StasisStartEvent } from '../ari/ari-models.ts';
import { type AriPort, isAriError } from '../ari/ari-port.ts';
import { type Clock, realClock } from '../clock.ts';
import type { Logger } from '../logger.ts';
import type { Assignment, CallQueue } from '../queues/call-queue.ts';
import type { SupervisorNotice } from '../queues/supervisor-notices.ts';
import type { CallRecord, CallRecordSink } from '../records/call-record.ts';
import {
  type CallClassification,
  type CallCommand,
  CallSession,
  type CallSessionContext,
  type CallSettings,
  type CommandRefusal,
  callIdOfBridge,
  OFFER_CHANNEL_PREFIX,
} from './call-session.ts';
import { parseSnapshot } from './call-snapshot.ts';

export interface CallCenterOptions {
  ari: AriPort;
  queue: CallQueue;
  recorder: CallRecordSink;
  logger: Logger;
  settings: CallSettings;
  /** Places a new call in the queue (screening and the menu); default: normal, no skill. */
  classify?: (event: StasisStartEvent) => CallClassification;
  /** Where supervisor notices go (logged here as well). */
  notify?: (notice: SupervisorNotice) => void;
  /** Screens each new caller; absent: no screening. */
  screen?: CallSessionContext['screen'];
  /** Told when screening released a caller. */
  released?: CallSessionContext['released'];
  /** The screening prompts in force (rules as data), over the configured ones. */
  prompts?: CallSessionContext['prompts'];
  /** Where call takers' desk events go. */
  desk?: CallSessionContext['desk'];
  /** The call's time (default: real). */
  clock?: Clock;
  /** Told of every call this process ended, with its final record (callbacks start here). */
  onCallEnded?: (record: Readonly<CallRecord>) => void;
  /** Records every answered call (absent: no recording). */
  recording?: CallSessionContext['recording'];
}

/**
 * Channels siaga112 creates for work outside a call session (callbacks, supervisor monitoring):
 * their ids start with the handler's prefix and all their events go to it.
 */
export interface ChannelHandler {
  readonly prefix: string;
  handle(event: AriEvent): void;
}

/** How often waiting calls are checked for ageing, skill fallback and overflow. */
const TICK_MS = 1000;
/** After a reconciliation that could not finish (ARI or Redis trouble), the next try. */
const RECONCILE_RETRY_MS = 1000;
/** How many destroyed channels are remembered (ids never repeat; a late event comes within seconds). */
const DESTROYED_CHANNELS_KEPT = 10_000;

/**
 * Routes ARI events to the call they belong to, starts a session for each new caller, runs the
 * dispatch loop that matches waiting calls with free call takers, and re-adopts live calls
 * whenever the events socket (re)connects.
 */
export class CallCenter {
  readonly #options: CallCenterOptions;
  readonly #context: CallSessionContext;
  readonly #sessionsByChannel = new Map<string, CallSession>();
  readonly #sessions = new Map<string, CallSession>();
  readonly #unsubscribe: Array<() => void> = [];
  #dispatching = false;
  #dispatchAgain = false;
  #reconciling: Promise<void> = Promise.resolve();
  #endedWaiters = new Set<() => void>();
  #tick: NodeJS.Timeout | undefined;
  #dispatchLoop: Promise<void> = Promise.resolve();
  #reconcilingNow = false;
  /**
   * Calls that arrived over the current events connection: they missed no event, so a
   * reconciliation leaves them alone (one listed as "not in the app" only arrived after the list).
   */
  readonly #arrivedSinceConnect = new Set<string>();
  readonly #clock: Clock;
  readonly #channelHandlers: ChannelHandler[] = [];
  /**
   * Channels Asterisk said were destroyed, oldest first, with their creation time. A StasisStart
   * for one of them (delivered twice, or out of order) names a channel that is gone: it must not
   * become a call. An id may be used again (a callback given back and claimed anew dials the same
   * ids): that is a new channel, created later, and is let through.
   */
  readonly #destroyed = new Map<string, string | undefined>();

  constructor(options: CallCenterOptions) {
    this.#options = options;
    const clock = options.clock ?? realClock;
    this.#clock = clock;
    this.#context = {
      ari: options.ari,
      queue: options.queue,
      recorder: options.recorder,
      logger: options.logger,
      settings: options.settings,
      clock,
      claimChannel: (channelId, session) => this.#sessionsByChannel.set(channelId, session),
      requestDispatch: () => this.requestDispatch(),
      mayAssign: () => !this.#reconcilingNow && options.ari.connected,
      requestDispatchAt: (at) => this.#dispatchAt(at),
      deliver: (assignment) => this.#deliver(assignment),
      ended: (session) => this.#forget(session),
      notify: (notice) => this.#notify(notice),
      ...(options.screen ? { screen: options.screen } : {}),
      ...(options.released ? { released: options.released } : {}),
      ...(options.prompts ? { prompts: options.prompts } : {}),
      ...(options.desk ? { desk: options.desk } : {}),
      ...(options.recording ? { recording: options.recording } : {}),
    };
  }

  /** Starts listening. Call before the ARI port starts, so no event is missed. */
  start(): void {
    const { ari } = this.#options;
    this.#unsubscribe.push(
      ari.onEvent((event) => this.#route(event)),
      ari.onConnectionChange((state) => {
        if (state !== 'connected') return;
        this.#arrivedSinceConnect.clear();
        this.#scheduleReconcile();
      }),
    );
    // Ageing, the skill fallback, wrap-ups and overflow are bounds in time: look again each tick.
    // A fast clock (a replay) looks more often in real time, but never more than 20 times a second.
    this.#tick = setInterval(() => void this.#onTick(), Math.max(50, TICK_MS / this.#clock.rate));
    this.#tick.unref();
  }

  async #onTick(): Promise<void> {
    if (!this.#options.ari.connected) return;
    this.requestDispatch();
    if (!this.#options.settings.overflow.target || this.#sessions.size === 0) return;
    try {
      const loggedIn = await this.#options.queue.loggedInCount();
      for (const session of this.#sessions.values()) await session.checkOverflow(loggedIn);
    } catch (error) {
      this.#options.logger.error({ err: error }, 'overflow check failed');
    }
  }

  #dispatchAt(at: number): void {
    const timer = this.#clock.setTimeout(() => this.requestDispatch(), Math.max(0, at - this.#clock.now()));
    timer.unref();
  }

  #notify(notice: Omit<SupervisorNotice, 'at'>): void {
    const full = { ...notice, at: this.#clock.now() };
    this.#options.logger.warn({ notice: full }, `supervisor notice: ${notice.kind}`);
    this.#options.notify?.(full);
  }

  /** Live calls in this process. */
  get activeCalls(): CallSession[] {
    return [...this.#sessions.values()];
  }

  /** Resolves when no call is active in this process (for orderly shutdown and tests). */
  async idle(): Promise<void> {
    while (this.#sessions.size > 0) {
      await new Promise<void>((resolve) => this.#endedWaiters.add(resolve));
    }
  }

  stop(): void {
    clearInterval(this.#tick);
    for (const off of this.#unsubscribe.splice(0)) off();
  }

  /**
   * This instance stands down with Redis away: no instance can re-adopt its waiting callers, so
   * each goes to the dialplan's fallback (every call taker's phone rings) before the events socket
   * closes. Connected calls stay as they are: a person is on the line.
   */
  async handOffWaiting(): Promise<void> {
    await Promise.allSettled([...this.#sessions.values()].map((session) => session.handOff('stood-down')));
  }

  /**
   * This instance no longer owns call control (another holds the lease): drop the sessions
   * without touching the calls, which the new owner re-adopts from Redis. A call that has ended
   * here but whose record is not written yet (Redis away) is kept until it is: only this process
   * knows how it ended. A caller handed to the fallback has left Stasis while its snapshot still
   * says waiting; re-adopted from that, the call would pass for one the caller hung up.
   */
  relinquish(): void {
    for (const session of this.#sessions.values()) {
      if (session.state === 'ended') continue;
      session.detach();
      this.#sessions.delete(session.callId);
    }
    this.#sessionsByChannel.clear();
    this.#arrivedSinceConnect.clear();
    for (const resolve of this.#endedWaiters) resolve();
    this.#endedWaiters.clear();
  }

  /**
   * A desk's command for a live call in this process; `unknown-call` when this process does not
   * have it (another instance may).
   */
  async command(
    callId: string,
    takerId: string,
    command: CallCommand,
  ): Promise<CommandRefusal | 'ok' | 'unknown-call'> {
    const session = this.#sessions.get(callId);
    if (!session) return 'unknown-call';
    return (await session.command(takerId, command)) ?? 'ok';
  }

  /** Routes the events of channels whose id starts with `handler.prefix` to it. */
  addChannelHandler(handler: ChannelHandler): void {
    this.#channelHandlers.push(handler);
  }

  #handlerFor(channelId: string): ChannelHandler | undefined {
    return this.#channelHandlers.find((handler) => channelId.startsWith(handler.prefix));
  }

  #route(event: AriEvent): void {
    if (event.type === 'ChannelDestroyed') this.#rememberDestroyed(event.channel);
    if (event.type === 'StasisStart' && this.#isDestroyed(event.channel)) {
      this.#options.logger.warn(
        { channelId: event.channel.id },
        'ignoring StasisStart for a channel already destroyed',
      );
      return;
    }
    if ('channel' in event && event.channel) {
      const handler = this.#handlerFor(event.channel.id);
      if (handler) {
        handler.handle(event);
        return;
      }
    }
    if (event.type === 'StasisStart') {
      const known = this.#sessionsByChannel.get(event.channel.id);
      if (known) {
        known.handle(event);
        return;
      }
      if (
        event.args[0] === 'offer' ||
        event.args[0] === 'overflow' ||
        event.channel.id.startsWith(OFFER_CHANNEL_PREFIX)
      ) {
        // A taker answered for a call that no longer exists here: free the phone.
        this.#options.logger.warn({ channelId: event.channel.id }, 'hanging up an orphaned taker leg');
        this.#hangupQuietly(event.channel.id);
        return;
      }
      const session = CallSession.arrive(this.#context, event, this.#options.classify?.(event));
      this.#sessions.set(session.callId, session);
      this.#arrivedSinceConnect.add(session.callId);
      return;
    }
    const session = this.#sessionFor(event);
    session?.handle(event);
  }

  #rememberDestroyed(channel: AriChannel): void {
    this.#destroyed.delete(channel.id);
    this.#destroyed.set(channel.id, channel.creationtime);
    if (this.#destroyed.size <= DESTROYED_CHANNELS_KEPT) return;
    const oldest = this.#destroyed.keys().next();
    if (!oldest.done) this.#destroyed.delete(oldest.value);
  }

  #isDestroyed(channel: AriChannel): boolean {
    return this.#destroyed.has(channel.id) && this.#destroyed.get(channel.id) === channel.creationtime;
  }

  #sessionFor(event: AriEvent): CallSession | undefined {
    if (event.type === 'PlaybackStarted' || event.type === 'PlaybackFinished') {
      // Our playback ids start with the call id (a UUID, 36 characters).
      const callId = event.playback.id.slice(0, 36);
      return this.#sessions.get(callId);
    }
    // So do our bridge ids.
    if (event.type === 'BridgeDestroyed') return this.#sessions.get(event.bridge.id.slice(0, 36));
    if ('channel' in event && event.channel) return this.#sessionsByChannel.get(event.channel.id);
    return undefined;
  }

  /** Matches waiting calls with free takers until one side runs out; one loop at a time. */
  requestDispatch(): void {
    // Without the events socket no offer can be followed (and while Asterisk is away none can
    // be made): the reconciliation after the next connect dispatches.
    if (!this.#options.ari.connected) return;
    if (this.#dispatching || this.#reconcilingNow) {
      // A reconciliation in progress dispatches when it is done.
      this.#dispatchAgain = true;
      return;
    }
    this.#dispatching = true;
    this.#dispatchLoop = (async () => {
      try {
        do {
          this.#dispatchAgain = false;
          for (;;) {
            const assignment = await this.#options.queue.dispatch();
            if (!assignment) break;
            this.#deliver(assignment);
          }
        } while (this.#dispatchAgain);
      } catch (error) {
        this.#options.logger.error({ err: error }, 'dispatch failed');
      } finally {
        this.#dispatching = false;
      }
    })();
  }

  #deliver(assignment: Assignment): void {
    const session = this.#sessions.get(assignment.callId);
    if (session) {
      session.offer(assignment);
      return;
    }
    // Not a call of this process: put it back untouched and free the taker.
    this.#options.logger.warn(
      { callId: assignment.callId },
      'assignment for a call this instance does not hold',
    );
    void this.#options.queue.requeue(assignment.callId, assignment.place, {
      takerId: assignment.takerId,
      state: 'available',
      reason: 'not-held-here',
    });
  }

  /**
   * Brings our view in line with Asterisk's after (re)connecting: calls known in Redis are
   * adopted and checked against the channels still in the app; channels nobody knows are
   * callers whose StasisStart we missed, or orphaned taker legs.
   */
  async reconcile(): Promise<void> {
    this.#reconcilingNow = true;
    let complete = false;
    try {
      // No assignment may race a call being reconciled: let a running dispatch finish first.
      await this.#dispatchLoop;
      complete = await this.#reconcileCalls();
    } catch (error) {
      this.#options.logger.error({ err: error }, 'reconcile failed');
    } finally {
      this.#reconcilingNow = false;
      this.requestDispatch();
    }
    // A call left unreconciled would wait forever: try again while we hold the events socket.
    if (!complete && this.#options.ari.connected) {
      const retry = setTimeout(() => this.#scheduleReconcile(), RECONCILE_RETRY_MS);
      retry.unref();
    }
  }

  /** Reconciliations run one after another; a failed one never stops the next. */
  #scheduleReconcile(): void {
    this.#reconciling = this.#reconciling.then(() => this.reconcile()).catch(() => undefined);
  }

  /** True when every known call and every channel in the app was reconciled. */
  async #reconcileCalls(): Promise<boolean> {
    const { ari, queue, logger } = this.#options;
    // Snapshots first, channels second: a listed call's channel is then missing from the list only
    // when it is really gone.
    const snapshots = await queue.listSnapshots();
    let live: Set<string>;
    let startup: string;
    try {
      startup = await ari.startupTime();
      live = new Set(await ari.listApplicationChannelIds());
    } catch (error) {
      logger.error({ err: error }, 'could not list the channels in the app; reconcile will be retried');
      return false;
    }
    // A call's channel missing from the list was hung up while we were away, unless Asterisk
    // restarted since the calls were last reconciled: then it died with Asterisk (the call is lost).
    const reconciledAgainst = await queue.reconciledAsteriskStartup();
    const asteriskRestarted = reconciledAgainst !== null && reconciledAgainst !== startup;
    if (asteriskRestarted) {
      logger.warn({ before: reconciledAgainst, now: startup }, 'Asterisk restarted: its calls are gone');
    }
    let complete = true;
    for (const text of snapshots) {
      const snapshot = parseSnapshot(text);
      if (!snapshot || this.#arrivedSinceConnect.has(snapshot.callId)) continue;
      let session = this.#sessions.get(snapshot.callId);
      if (!session) {
        session = CallSession.adopt(this.#context, snapshot);
        this.#sessions.set(session.callId, session);
        logger.info({ callId: snapshot.callId, state: snapshot.state }, 're-adopted a live call');
      }
      try {
        await session.reconcile(live, { asteriskRestarted });
      } catch (error) {
        // One call's trouble (an ARI timeout during a takeover) must not leave the others behind.
        logger.error({ err: error, callId: snapshot.callId }, 'could not reconcile a call; will retry');
        complete = false;
      }
    }
    for (const channelId of live) {
      if (this.#sessionsByChannel.has(channelId) || this.#handlerFor(channelId)) continue;
      if (channelId.startsWith(OFFER_CHANNEL_PREFIX)) {
        this.#hangupQuietly(channelId);
        continue;
      }
      try {
        const channel = await ari.getChannel(channelId);
        logger.warn({ channelId }, 'adopting a caller whose arrival was missed');
        this.#route({
          type: 'StasisStart',
          application: ari.app,
          timestamp: new Date().toISOString(),
          args: [],
          channel,
        });
      } catch (error) {
        if (!isAriError(error, 'not-found')) {
          logger.error({ err: error, channelId }, 'could not adopt channel; will retry');
          complete = false;
        }
      }
    }
    // Kept only once every call is reconciled: a retry must still see the restart.
    if (complete) {
      await queue.setReconciledAsteriskStartup(startup);
      await this.#destroyOrphanedBridges();
    }
    return complete;
  }

  /**
   * Bridges of calls that are over: an instance killed between a call's end and its bridge's
   * destruction leaves one behind, and Asterisk keeps an empty bridge forever. Every live call
   * has a session here once reconciled, so a call bridge without one is nobody's.
   */
  async #destroyOrphanedBridges(): Promise<void> {
    const { ari, logger } = this.#options;
    let bridges: Awaited<ReturnType<AriPort['listBridges']>>;
    try {
      bridges = await ari.listBridges();
    } catch (error) {
      logger.warn({ err: error }, 'could not list bridges to clear those of ended calls');
      return;
    }
    for (const bridge of bridges) {
      const callId = callIdOfBridge(bridge.id);
      if (!callId || this.#sessions.has(callId)) continue;
      logger.warn(
        { bridgeId: bridge.id, channels: bridge.channels },
        'destroying the bridge of an ended call',
      );
      await ari.destroyBridge(bridge.id).catch((error: unknown) => {
        if (!isAriError(error, 'not-found'))
          logger.warn({ err: error, bridgeId: bridge.id }, 'destroy failed');
      });
    }
  }

  #forget(session: CallSession): void {
    // A call whose ending another instance wrote was told about there.
    if (this.#sessions.get(session.callId) === session && session.endingWrittenHere)
      this.#options.onCallEnded?.(session.snapshot.record);
    this.#sessions.delete(session.callId);
    this.#arrivedSinceConnect.delete(session.callId);
    for (const channelId of session.channelIds()) this.#sessionsByChannel.delete(channelId);
    if (this.#sessions.size === 0) {
      for (const resolve of this.#endedWaiters) resolve();
      this.#endedWaiters.clear();
    }
  }

  #hangupQuietly(channelId: string): void {
    this.#options.ari.hangup(channelId).catch((error: unknown) => {
      if (!isAriError(error, 'not-found'))
        this.#options.logger.warn({ err: error, channelId }, 'hangup failed');
    });
  }
}
