import { randomUUID } from 'node:crypto';
import type { AriChannel, AriEvent, StasisStartEvent } from '../ari/ari-models.ts';
import { type AriPort, isAriError } from '../ari/ari-port.ts';
import type { Logger } from '../logger.ts';
import type { Assignment, CallQueue } from '../queues/call-queue.ts';
import { queueScore } from '../queues/call-queue.ts';
import type { CallRecordSink, Disposition } from '../records/call-record.ts';
import { type CallSnapshot, type Offer, serializeSnapshot } from './call-snapshot.ts';
import { assertTransition, type CallState } from './call-state.ts';
import { normalizeCallerId } from './caller-id.ts';

export interface CallSettings {
  greetingMedia: readonly string[];
  mohClass: string;
  ringTimeoutSeconds: number;
}

/** What a session needs from the world; the call center provides it. */
export interface CallSessionContext {
  ari: AriPort;
  queue: CallQueue;
  recorder: CallRecordSink;
  logger: Logger;
  settings: CallSettings;
  now(): number;
  /** A channel now belongs to this session: route its events here. */
  claimChannel(channelId: string, session: CallSession): void;
  /** A taker became free or a call came back: match waiting calls with free takers. */
  requestDispatch(): void;
  /** The assignment the queue made was for another call: hand it to that call's session. */
  deliver(assignment: Assignment): void;
  /** The session has ended and its record is queued. */
  ended(session: CallSession): void;
}

const NORMAL_PRIORITY = 1;
/** How long past Asterisk's own ring timeout we wait for its verdict before ending the offer. */
const RING_GUARD_MS = 5000;
const FLUSH_RETRY_MS = 1000;

/** Prefix of the channel ids we give taker legs, so an orphaned one is recognizable. */
export const OFFER_CHANNEL_PREFIX = 'siaga112-offer-';

/**
 * One 112 call, from StasisStart to its record: answers and greets the caller, queues the call,
 * rings the taker it is assigned, bridges them, and cleans up both legs when either hangs up.
 * Every transition updates the snapshot in Redis (for re-adoption) and appends a timeline event.
 */
export class CallSession {
  readonly #ctx: CallSessionContext;
  readonly #snapshot: CallSnapshot;
  /** Ends every wait of this call (ring guard, flush retries) when it ends. */
  readonly #lifetime = new AbortController();
  #answered: Promise<boolean> = Promise.resolve(true);
  #flushScheduled = false;
  #flushing: Promise<void> = Promise.resolve();

  private constructor(ctx: CallSessionContext, snapshot: CallSnapshot) {
    this.#ctx = ctx;
    this.#snapshot = snapshot;
  }

  get callId(): string {
    return this.#snapshot.callId;
  }

  get state(): CallState {
    return this.#snapshot.state;
  }

  get snapshot(): Readonly<CallSnapshot> {
    return this.#snapshot;
  }

  /** Every channel this call has had: the caller and each taker leg it rang. */
  channelIds(): string[] {
    const { callerChannelId, offerAttempts } = this.#snapshot;
    const legs = Array.from({ length: offerAttempts }, (_, i) => offerChannelId(this.callId, i + 1));
    return [callerChannelId, ...legs];
  }

  /** A caller entered the app: answer, greet and queue at once, all in parallel. */
  static arrive(ctx: CallSessionContext, event: StasisStartEvent): CallSession {
    const now = ctx.now();
    const channel = event.channel;
    const identity = normalizeCallerId(channel.caller.number);
    const callId = randomUUID();
    const session = new CallSession(ctx, {
      callId,
      state: 'queued',
      callerChannelId: channel.id,
      score: queueScore(NORMAL_PRIORITY, now),
      offer: null,
      offerAttempts: 0,
      takerChannelId: null,
      bridgeId: null,
      greetingDone: false,
      nextSeq: 1,
      pendingEvents: [],
      record: {
        id: callId,
        version: 0,
        callerChannelId: channel.id,
        trunk: trunkOf(event),
        callerIdRaw: identity.raw,
        callerNumber: identity.number,
        callerIdKind: identity.kind,
        priority: NORMAL_PRIORITY,
        arrivedAt: new Date(now),
        answeredAt: null,
        queuedAt: new Date(now),
        offeredAt: null,
        connectedAt: null,
        endedAt: null,
        disposition: null,
        endedBy: null,
        takerId: null,
        waitMs: null,
        talkMs: null,
      },
    });
    ctx.claimChannel(channel.id, session);
    session.#log('arrived', {
      channelId: channel.id,
      channelName: channel.name,
      callerIdKind: identity.kind,
      trunk: session.#snapshot.record.trunk,
    });
    session.#log('queued', { priority: NORMAL_PRIORITY });
    session.#answered = session.#answerAndGreet();
    void session.#enqueue();
    return session;
  }

  /** Carries on with a call another process (or this one before a restart) was handling. */
  static adopt(ctx: CallSessionContext, snapshot: CallSnapshot): CallSession {
    const session = new CallSession(ctx, snapshot);
    ctx.claimChannel(snapshot.callerChannelId, session);
    if (snapshot.offer) ctx.claimChannel(snapshot.offer.channelId, session);
    if (snapshot.takerChannelId) ctx.claimChannel(snapshot.takerChannelId, session);
    session.#log('adopted', { state: snapshot.state });
    return session;
  }

  /** Events for the channels and playbacks of this call. */
  handle(event: AriEvent): void {
    switch (event.type) {
      case 'StasisStart':
        if (event.channel.id === this.#snapshot.offer?.channelId) void this.#takerAnswered(event.channel);
        return;
      case 'ChannelHangupRequest':
      case 'StasisEnd':
        this.#channelLeft(event.channel.id, event.type === 'ChannelHangupRequest' ? event.cause : undefined);
        return;
      case 'ChannelDestroyed':
        if (event.channel.id === this.#snapshot.offer?.channelId && this.state === 'offered') {
          void this.#offerFailed('offline', { cause: event.cause, causeText: event.cause_txt });
        } else {
          this.#channelLeft(event.channel.id, event.cause);
        }
        return;
      case 'PlaybackFinished':
        if (event.playback.id === this.#greetingId) void this.#greetingFinished(event.playback.state);
        return;
      default:
        return;
    }
  }

  /** The queue reserved a taker for this call: ring the taker's phone. */
  offer(assignment: Assignment): void {
    if (this.state !== 'queued') {
      // The call moved on (e.g. ended) between the queue's decision and now: hand the taker back.
      void this.#ctx.queue.withdraw(this.callId).then(() => this.#ctx.requestDispatch());
      return;
    }
    const attempt = this.#snapshot.offerAttempts + 1;
    const offer: Offer = {
      takerId: assignment.takerId,
      endpoint: assignment.endpoint,
      channelId: offerChannelId(this.callId, attempt),
      attempt,
    };
    this.#transition('offered');
    this.#snapshot.offerAttempts = attempt;
    this.#snapshot.offer = offer;
    this.#snapshot.record.offeredAt ??= new Date(this.#ctx.now());
    this.#ctx.claimChannel(offer.channelId, this);
    this.#log('offered', { takerId: offer.takerId, endpoint: offer.endpoint, attempt });
    const { record } = this.#snapshot;
    this.#ctx.ari
      .originate({
        endpoint: offer.endpoint,
        channelId: offer.channelId,
        appArgs: ['offer', this.callId, offer.takerId],
        timeoutSeconds: this.#ctx.settings.ringTimeoutSeconds,
        callerId: record.callerNumber ?? 'unknown',
      })
      .catch((error: unknown) => {
        if (this.#snapshot.offer?.channelId !== offer.channelId) return;
        this.#ctx.logger.warn({ err: error, callId: this.callId, takerId: offer.takerId }, 'offer failed');
        void this.#offerFailed('offline', { error: isAriError(error) ? error.code : 'unknown' });
      });
    this.#guardRing(offer);
    this.#saveSnapshot();
  }

  /**
   * After the events socket was away: compare what we believe with the channels Asterisk still
   * has in our app, and act on what happened meanwhile (events sent then are lost for good).
   */
  async reconcile(liveChannelIds: ReadonlySet<string>): Promise<void> {
    const snapshot = this.#snapshot;
    if (this.state === 'ended') return;
    if (!liveChannelIds.has(snapshot.callerChannelId)) {
      this.#log('vanished', { channelId: snapshot.callerChannelId });
      await this.#end('caller');
      return;
    }
    if (this.state === 'connected') {
      if (snapshot.takerChannelId && !liveChannelIds.has(snapshot.takerChannelId)) await this.#end('taker');
      return;
    }
    if (this.state === 'offered' && snapshot.offer) {
      const offer = snapshot.offer;
      if (liveChannelIds.has(offer.channelId)) {
        await this.#takerAnswered(undefined);
        return;
      }
      try {
        await this.#ctx.ari.getChannel(offer.channelId);
        this.#guardRing(offer); // still ringing: Asterisk will tell us how it ends
      } catch (error) {
        if (isAriError(error, 'not-found')) await this.#offerFailed('offline', { reason: 'gone-while-away' });
      }
      return;
    }
    // queued: make sure it is still waiting in Redis, keep the caller on hold.
    if (snapshot.greetingDone) void this.#ignoreGone(this.#ctx.ari.startMoh(snapshot.callerChannelId));
    await this.#enqueue();
  }

  async #enqueue(): Promise<void> {
    try {
      const assignment = await this.#ctx.queue.enqueue(
        this.callId,
        this.#snapshot.score,
        serializeSnapshot(this.#snapshot),
      );
      if (!assignment) return;
      if (assignment.callId === this.callId) this.offer(assignment);
      else this.#ctx.deliver(assignment);
    } catch (error) {
      this.#ctx.logger.error({ err: error, callId: this.callId }, 'could not queue the call');
      this.#log('queue-error', { message: error instanceof Error ? error.message : String(error) });
    }
  }

  async #answerAndGreet(): Promise<boolean> {
    const channelId = this.#snapshot.callerChannelId;
    try {
      await this.#ctx.ari.answer(channelId);
    } catch (error) {
      if (!isAriError(error, 'not-found') && !isAriError(error, 'not-in-stasis')) {
        this.#ctx.logger.error({ err: error, callId: this.callId }, 'could not answer the caller');
        this.#log('answer-failed', { error: isAriError(error) ? error.code : 'unknown' });
      }
      return false;
    }
    if (this.state === 'ended') return false;
    this.#snapshot.record.answeredAt = new Date(this.#ctx.now());
    this.#log('answered', {});
    if (this.state === 'connected') return true;
    try {
      await this.#ctx.ari.play(channelId, this.#greetingId, [...this.#ctx.settings.greetingMedia]);
    } catch (error) {
      if (!isAriError(error, 'not-found')) this.#log('greeting-failed', { error: String(error) });
      await this.#greetingFinished('failed');
    }
    return true;
  }

  get #greetingId(): string {
    return `${this.callId}-greeting`;
  }

  async #greetingFinished(playbackState: string): Promise<void> {
    if (this.#snapshot.greetingDone) return;
    this.#snapshot.greetingDone = true;
    this.#log('greeting-finished', { playbackState });
    if (this.state === 'queued' || this.state === 'offered') {
      await this.#ignoreGone(
        this.#ctx.ari.startMoh(this.#snapshot.callerChannelId, this.#ctx.settings.mohClass),
      );
    }
  }

  async #takerAnswered(channel: AriChannel | undefined): Promise<void> {
    const offer = this.#snapshot.offer;
    if (this.state !== 'offered' || !offer) return;
    const now = this.#ctx.now();
    this.#transition('connected');
    const snapshot = this.#snapshot;
    snapshot.takerChannelId = offer.channelId;
    snapshot.offer = null;
    snapshot.bridgeId = `${this.callId}-bridge`;
    snapshot.record.connectedAt = new Date(now);
    snapshot.record.takerId = offer.takerId;
    snapshot.record.waitMs = now - snapshot.record.arrivedAt.getTime();
    this.#log('connected', { takerId: offer.takerId, channelName: channel?.name });
    this.#saveSnapshot();
    void this.#ctx.queue.setTakerState(offer.takerId, 'on-call', { callId: this.callId });

    const ari = this.#ctx.ari;
    const callerId = snapshot.callerChannelId;
    if (!(await this.#answered) || !this.#is('connected')) return;
    await Promise.all([
      this.#ignoreGone(ari.stopPlayback(this.#greetingId)),
      this.#ignoreGone(ari.stopMoh(callerId)),
      this.#ignoreGone(ari.createBridge(snapshot.bridgeId, `siaga112 ${this.callId}`)),
    ]);
    if (!this.#is('connected')) return; // ended meanwhile: #end destroys the bridge
    try {
      await ari.addChannels(snapshot.bridgeId, [callerId, offer.channelId]);
      this.#log('bridged', { bridgeId: snapshot.bridgeId });
    } catch (error) {
      // One leg left while we bridged: its hangup event ends the call.
      this.#ctx.logger.warn({ err: error, callId: this.callId }, 'bridging failed');
      this.#log('bridge-failed', { error: isAriError(error) ? error.code : String(error) });
    }
  }

  async #offerFailed(takerState: 'offline', detail: Record<string, unknown>): Promise<void> {
    const offer = this.#snapshot.offer;
    if (this.state !== 'offered' || !offer) return;
    this.#transition('queued');
    this.#snapshot.offer = null;
    this.#log('offer-failed', { takerId: offer.takerId, attempt: offer.attempt, ...detail });
    await this.#ignoreGone(this.#ctx.ari.hangup(offer.channelId));
    try {
      await this.#ctx.queue.requeue(this.callId, this.#snapshot.score, offer.takerId, takerState);
      this.#saveSnapshot();
    } catch (error) {
      this.#ctx.logger.error({ err: error, callId: this.callId }, 'could not requeue the call');
    }
    this.#ctx.requestDispatch();
  }

  #channelLeft(channelId: string, cause: number | undefined): void {
    const { callerChannelId, takerChannelId, offer } = this.#snapshot;
    if (channelId === callerChannelId) void this.#end('caller', { cause });
    else if (channelId === takerChannelId && this.state === 'connected') void this.#end('taker', { cause });
    else if (channelId === offer?.channelId && this.state === 'offered') {
      void this.#offerFailed('offline', { cause, reason: 'hung-up-while-ringing' });
    }
  }

  async #end(endedBy: 'caller' | 'taker' | 'system', detail: Record<string, unknown> = {}): Promise<void> {
    if (this.state === 'ended') return;
    const previous = this.state;
    const snapshot = this.#snapshot;
    const offer = snapshot.offer;
    const now = this.#ctx.now();
    this.#transition('ended');
    this.#lifetime.abort();
    const record = snapshot.record;
    const disposition: Disposition = record.connectedAt ? 'connected' : 'abandoned';
    record.endedAt = new Date(now);
    record.endedBy = endedBy;
    record.disposition = disposition;
    record.waitMs ??= now - record.arrivedAt.getTime();
    record.talkMs = record.connectedAt ? now - record.connectedAt.getTime() : null;
    this.#log('ended', { endedBy, disposition, ...detail });

    const ari = this.#ctx.ari;
    const cleanup: Array<Promise<unknown>> = [];
    if (previous === 'queued' || previous === 'offered') {
      cleanup.push(this.#ctx.queue.withdraw(this.callId).then(() => this.#ctx.requestDispatch()));
      if (offer) cleanup.push(this.#ignoreGone(ari.hangup(offer.channelId)));
    }
    if (previous === 'connected') {
      const otherLeg = endedBy === 'taker' ? snapshot.callerChannelId : snapshot.takerChannelId;
      if (otherLeg) cleanup.push(this.#ignoreGone(ari.hangup(otherLeg)));
      if (record.takerId) cleanup.push(this.#releaseTaker(record.takerId));
    }
    if (snapshot.bridgeId) cleanup.push(this.#ignoreGone(ari.destroyBridge(snapshot.bridgeId)));
    if (endedBy !== 'caller') cleanup.push(this.#ignoreGone(ari.hangup(snapshot.callerChannelId)));
    await Promise.allSettled(cleanup);

    await this.#flushNow();
    try {
      await this.#ctx.queue.forget(this.callId);
    } catch (error) {
      this.#ctx.logger.error({ err: error, callId: this.callId }, 'could not forget the ended call');
    }
    this.#ctx.ended(this);
  }

  async #releaseTaker(takerId: string): Promise<void> {
    const presence = await this.#ctx.queue.getTaker(takerId);
    if (presence?.callId !== this.callId) return; // the taker has moved on (e.g. logged off)
    await this.#ctx.queue.setTakerState(takerId, 'available');
    this.#ctx.requestDispatch();
  }

  /** Asterisk decides ring-no-answer; this only ends the wait if its verdict never arrives. */
  #guardRing(offer: Offer): void {
    const ms = this.#ctx.settings.ringTimeoutSeconds * 1000 + RING_GUARD_MS;
    const timer = setTimeout(() => {
      if (this.#snapshot.offer?.channelId === offer.channelId) {
        void this.#offerFailed('offline', { reason: 'no-verdict-from-asterisk' });
      }
    }, ms);
    timer.unref();
    this.#lifetime.signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
  }

  /** Re-reads the state after an await (TypeScript would keep the narrowing from before it). */
  #is(state: CallState): boolean {
    return this.#snapshot.state === state;
  }

  #transition(to: CallState): void {
    assertTransition(this.callId, this.#snapshot.state, to);
    this.#snapshot.state = to;
  }

  #log(type: string, detail: Record<string, unknown>): void {
    const snapshot = this.#snapshot;
    snapshot.pendingEvents.push({
      callId: this.callId,
      seq: snapshot.nextSeq++,
      at: new Date(this.#ctx.now()),
      type,
      state: snapshot.state,
      detail,
    });
    this.#scheduleFlush();
  }

  /** Coalesces the events of one burst (arrived, queued, offered…) into one record write. */
  #scheduleFlush(): void {
    if (this.#flushScheduled || this.state === 'ended') return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      void this.#flushNow();
    });
  }

  #flushNow(): Promise<void> {
    this.#flushing = this.#flushing.then(() => this.#flush());
    return this.#flushing;
  }

  async #flush(): Promise<void> {
    const snapshot = this.#snapshot;
    if (snapshot.pendingEvents.length === 0) return;
    const events = snapshot.pendingEvents;
    snapshot.pendingEvents = [];
    snapshot.record.version += 1;
    try {
      await this.#ctx.recorder.write({ record: { ...snapshot.record }, events });
    } catch (error) {
      // Keep them for the next write: a record is delayed, never dropped.
      snapshot.pendingEvents = [...events, ...snapshot.pendingEvents];
      this.#ctx.logger.warn({ err: error, callId: this.callId }, 'record write failed; will retry');
      const retry = setTimeout(() => void this.#flushNow(), FLUSH_RETRY_MS);
      if (this.state !== 'ended') {
        this.#lifetime.signal.addEventListener('abort', () => clearTimeout(retry), { once: true });
      }
    }
  }

  #saveSnapshot(): void {
    if (this.state === 'ended') return;
    this.#ctx.queue.saveSnapshot(this.callId, serializeSnapshot(this.#snapshot)).catch((error: unknown) => {
      this.#ctx.logger.warn({ err: error, callId: this.callId }, 'could not save the call snapshot');
    });
  }

  /** A channel, bridge or playback already gone is a fact about the call, not a failure. */
  async #ignoreGone(request: Promise<unknown>): Promise<void> {
    try {
      await request;
    } catch (error) {
      if (isAriError(error, 'not-found') || isAriError(error, 'not-in-stasis')) return;
      this.#ctx.logger.warn({ err: error, callId: this.callId }, 'ARI request failed');
    }
  }
}

function offerChannelId(callId: string, attempt: number): string {
  return `${OFFER_CHANNEL_PREFIX}${callId}-${attempt}`;
}

/** The trunk is the first Stasis argument the dialplan passes, else the PJSIP endpoint name. */
function trunkOf(event: StasisStartEvent): string | null {
  const fromArgs = event.args[0]?.trim();
  if (fromArgs) return fromArgs.slice(0, 64);
  const match = /^PJSIP\/(.+)-[0-9a-f]+$/.exec(event.channel.name);
  return match?.[1] ?? null;
}
