import { randomUUID } from 'node:crypto';
import type { AriChannel, AriEvent, StasisStartEvent } from '../ari/ari-models.ts';
import { type AriPort, type DialplanTarget, isAriError, type OriginateRequest } from '../ari/ari-port.ts';
import { originateOnce } from '../ari/originate-once.ts';
import type { Clock } from '../clock.ts';
import type { Agency } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { Assignment, CallCategory, CallQueue, PriorityLevel } from '../queues/call-queue.ts';
import type { DeskEvent } from '../queues/desk-events.ts';
import type { SupervisorNotice } from '../queues/supervisor-notices.ts';
import type { CallRecordingHooks, RecordedCall } from '../recording/call-recording-hooks.ts';
import type { CallEvent, CallRecordSink, Disposition, ScreeningOutcome } from '../records/call-record.ts';
import { withTimeout } from '../with-timeout.ts';
import { type AgencyLeg, type CallSnapshot, type Offer, serializeSnapshot } from './call-snapshot.ts';
import { assertTransition, type CallState } from './call-state.ts';
import { type CallerIdentity, normalizeCallerId } from './caller-id.ts';
import { type OfferFailure, offerFailureFromCause } from './offer-outcome.ts';
import type { IvrPrompts } from './screening.ts';

export interface CallSettings {
  greetingMedia: readonly string[];
  mohClass: string;
  ringTimeoutSeconds: number;
  /** After a call the taker wraps up this long, then is available again (0: at once). */
  wrapUpSeconds: number;
  /** Played to a waiting caller every `intervalSeconds` (0: never), with the queue position if asked. */
  announcement: { media: readonly string[]; intervalSeconds: number; withPosition: boolean };
  /** Where a call goes when no taker is logged in or it waited `afterSeconds` (target null: nowhere). */
  overflow: { target: string | null; afterSeconds: number };
  /** The dialplan's fallback (every taker's phone rings): a caller siaga112 cannot queue goes there. */
  fallback: DialplanTarget;
  /** The agency directory a taker dials into a call from, and how long an agency may ring. */
  agencies: readonly Agency[];
  agencyRingSeconds: number;
  /** The IVR of screening: the misuse warning, the key-press challenge and how long it waits. */
  ivr: {
    warningMedia: readonly string[];
    challengeMedia: readonly string[];
    challengeWindowSeconds: number;
    /** "If you need help but cannot speak, press 5 twice." */
    silentPromptMedia: readonly string[];
    /** No speech and no key this long after answering, while waiting: the silent prompt. */
    silenceWindowSeconds: number;
    /** A silent caller who pressed nothing waits at low priority this long, then is released. */
    silentReleaseSeconds: number;
  };
}

/** How screening and the menu place a call in the queue (default: normal, no skill needed). */
export interface CallClassification {
  level: PriorityLevel;
  category: CallCategory | null;
}

/** What a session needs from the world; the call center provides it. */
export interface CallSessionContext {
  ari: AriPort;
  queue: CallQueue;
  recorder: CallRecordSink;
  logger: Logger;
  settings: CallSettings;
  /** The call's time: stamps, windows and timeouts (real except in a replay). */
  clock: Clock;
  /** A channel now belongs to this session: route its events here. */
  claimChannel(channelId: string, session: CallSession): void;
  /** A taker became free or a call came back: match waiting calls with free takers. */
  requestDispatch(): void;
  /** Dispatch again at this epoch ms (a wrap-up ends then). */
  requestDispatchAt(at: number): void;
  /** False while calls are being reconciled: queue only, the call center dispatches after. */
  mayAssign(): boolean;
  /** The assignment the queue made was for another call: hand it to that call's session. */
  deliver(assignment: Assignment): void;
  /** The session has ended and its record is queued. */
  ended(session: CallSession): void;
  /** Tells supervisors something they must act on. */
  notify(notice: Omit<SupervisorNotice, 'at'>): void;
  /** Screens the caller (fails open by itself); absent: every call is connected as classified. */
  screen?(identity: CallerIdentity, callId: string): Promise<ScreeningOutcome>;
  /** Screening released this caller: the next call within the cooldown is challenged instead. */
  released?(identity: CallerIdentity): void;
  /** Prompts of the rule set in force, over the configured ones. */
  prompts?(): IvrPrompts | undefined;
  /** Tells a call taker's desk about their call (the screen pop, then every change). */
  desk?(takerId: string, event: Omit<DeskEvent, 'at'>): void;
  /** Records the call from the answer (absent: calls are not recorded); never awaited on the way to a taker. */
  recording?: CallRecordingHooks;
}

/** What a call taker's desk asks of a connected call. */
export type CallCommand =
  | { kind: 'hold' }
  | { kind: 'resume' }
  /** Dial an agency into the call; `handOver`: the taker leaves once it answers (blind hand-over). */
  | { kind: 'conference'; agencyId: string; handOver: boolean }
  /** The taker leaves a conference, handing the caller over to the agencies on the line. */
  | { kind: 'leave' };

/** Why a desk command was refused (the desk shows it; nothing changed). */
export type CommandRefusal = 'not-connected' | 'not-your-call' | 'already' | 'unknown-agency' | 'no-agency';

const NORMAL: CallClassification = { level: 1, category: null };
/** After a failed overflow, the call stays with our takers at least this long before another try. */
const OVERFLOW_RETRY_MS = 60_000;
/** How long past Asterisk's own ring timeout we wait for its verdict before ending the offer. */
const RING_GUARD_MS = 5000;
const FLUSH_RETRY_MS = 1000;
/** A queue request unanswered this long means Redis is away: the caller goes to the fallback. */
const QUEUE_TIMEOUT_MS = 2000;

/** Prefix of the channel ids we give taker legs, so an orphaned one is recognizable. */
export const OFFER_CHANNEL_PREFIX = 'siaga112-offer-';
/** Prefix of the channel ids of agencies dialed into a call. */
export const AGENCY_CHANNEL_PREFIX = 'siaga112-agency-';

/** The bridge a call's caller and taker talk in. */
export function callBridgeId(callId: string): string {
  return `${callId}-bridge`;
}

/** The call a bridge named by callBridgeId belongs to; null for any other bridge. */
export function callIdOfBridge(bridgeId: string): string | null {
  return (
    /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})-bridge$/.exec(bridgeId)?.[1] ?? null
  );
}

/** Why an agency call did not connect, from Asterisk's hang-up cause. */
function agencyFailure(cause: number | undefined, causeText: string | undefined): string {
  if (causeText?.startsWith('could not dial')) return causeText;
  switch (cause) {
    case 17:
      return 'busy';
    case 18:
    case 19:
      return 'no-answer';
    case 21:
      return 'rejected';
    case 1:
    case 3:
    case 28:
      return 'invalid-number';
    default:
      return cause === undefined ? 'failed' : `failed (cause ${cause}${causeText ? `: ${causeText}` : ''})`;
  }
}

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
  /** Events handed to the record writer and not yet queued: every snapshot keeps them till then. */
  #inFlight: CallEvent[] = [];
  #saveScheduled = false;
  #announcementTimer: NodeJS.Timeout | undefined;
  #challengeTimer: NodeJS.Timeout | undefined;
  #openAnswerGate: () => void = () => {};
  readonly #answerGate = new Promise<void>((resolve) => {
    this.#openAnswerGate = resolve;
  });
  #silenceTimer: NodeJS.Timeout | undefined;
  #personHeard = false;
  /** The call ends because a silent caller waited past the bound (disposition `silent`). */
  #silentRelease = false;
  /** The call ends because Asterisk restarted under it (disposition `lost` unless answered). */
  #lost = false;
  /**
   * The caller has been in the bridge with whoever answered. Until then a dropped answering leg
   * sends the call back to the queue instead of ending it. Unknown for an adopted connected call:
   * taken as true, so it ends as before.
   */
  #putThrough = false;
  /** Another instance owns the call now: whatever was in flight here stops at its next step. */
  #detached = false;
  #forgotten = false;
  #flushing: Promise<void> = Promise.resolve();
  /** Sent to the dialplan's fallback: its leaving Stasis ends the call here, unanswered by us. */
  #handedOff = false;
  /** Names this session when it claims the write of the call's ending (one instance writes it). */
  readonly #writer = randomUUID();
  /** Another instance wrote how this call ended: nothing of this session's goes on record. */
  #endingWrittenElsewhere = false;
  /** The bridging in progress (settled when none): a repair of the bridge waits for it. */
  #bridging: Promise<void> = Promise.resolve();
  /** The offer leg whose originate has had no answer yet: its phone may ring, or may not. */
  #unconfirmedLeg: string | undefined;

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

  /** False when another instance wrote how this call ended (and told whoever needs to know). */
  get endingWrittenHere(): boolean {
    return !this.#endingWrittenElsewhere;
  }

  /** This call as the recorder sees it. */
  get #recorded(): RecordedCall {
    return {
      callId: this.callId,
      callerChannelId: this.#snapshot.callerChannelId,
      state: () => (this.#detached ? 'ended' : this.state),
      log: (type, detail) => this.#log(type, detail),
    };
  }

  /** Every channel this call has had: the caller and each taker leg it rang. */
  channelIds(): string[] {
    const { callerChannelId, offerAttempts } = this.#snapshot;
    const legs = Array.from({ length: offerAttempts }, (_, i) => offerChannelId(this.callId, i + 1));
    return [callerChannelId, ...legs];
  }

  /** A caller entered the app: answer, greet and queue at once, all in parallel. */
  static arrive(
    ctx: CallSessionContext,
    event: StasisStartEvent,
    classification: CallClassification = NORMAL,
  ): CallSession {
    const now = ctx.clock.now();
    const channel = event.channel;
    const identity = normalizeCallerId(channel.caller.number);
    const callId = randomUUID();
    const session = new CallSession(ctx, {
      callId,
      state: 'queued',
      callerChannelId: channel.id,
      place: { level: classification.level, enqueuedAt: now, category: classification.category },
      offer: null,
      offerAttempts: 0,
      takerChannelId: null,
      bridgeId: null,
      greetingDone: false,
      announcements: 0,
      overflowRetryAt: 0,
      overflowTarget: null,
      challenge: null,
      silent: null,
      held: false,
      agencies: [],
      takerLeft: false,
      pendingEvents: [],
      record: {
        id: callId,
        version: 0,
        callerChannelId: channel.id,
        trunk: trunkOf(event),
        callerIdRaw: identity.raw,
        callerNumber: identity.number,
        callerIdKind: identity.kind,
        priority: classification.level,
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
        screening: null,
      },
    });
    ctx.claimChannel(channel.id, session);
    session.#log('arrived', {
      channelId: channel.id,
      channelName: channel.name,
      callerIdKind: identity.kind,
      trunk: session.#snapshot.record.trunk,
    });
    session.#log('queued', { priority: classification.level, category: classification.category });
    // Screening and the queue first: a clean caller's free taker starts ringing two Redis round
    // trips from now, while the answer and greeting requests go out. The snapshot is saved at
    // once, so a call whose owner dies while screening is re-adopted, not taken for a new one.
    session.#saveSnapshot();
    // The answer waits for screening's one round trip, so it never delays the queue's request.
    session.#answered = session.#answerGate.then(() => session.#answerAndGreet());
    void session.#screenThenEnqueue(identity);
    return session;
  }

  /** Carries on with a call another process (or this one before a restart) was handling. */
  static adopt(ctx: CallSessionContext, snapshot: CallSnapshot): CallSession {
    const session = new CallSession(ctx, snapshot);
    // Ended where it was handled (a caller handed to the fallback): only its record is left to write.
    if (snapshot.state === 'ended') return session;
    session.#putThrough = snapshot.state === 'connected';
    ctx.claimChannel(snapshot.callerChannelId, session);
    if (snapshot.offer) ctx.claimChannel(snapshot.offer.channelId, session);
    if (snapshot.takerChannelId) ctx.claimChannel(snapshot.takerChannelId, session);
    for (const leg of snapshot.agencies) ctx.claimChannel(leg.channelId, session);
    session.#log('adopted', { state: snapshot.state });
    return session;
  }

  /**
   * siaga112 cannot keep this waiting caller (Redis away, or this instance stands down with
   * nobody to take over): the dialplan's fallback rings every call taker's phone. The record
   * says so when it can be written; a write that fails is retried and never holds the caller.
   */
  async handOff(reason: 'queue-error' | 'snapshot-error' | 'stood-down'): Promise<void> {
    if (!this.#waiting() || this.#handedOff) return;
    // Set first: the caller's StasisEnd can arrive before the request's reply.
    this.#handedOff = true;
    const target = this.#ctx.settings.fallback;
    try {
      await this.#ctx.ari.continueInDialplan(this.#snapshot.callerChannelId, target);
    } catch (error) {
      this.#handedOff = false;
      // Gone already: the caller hung up, and that ends the call.
      if (isAriError(error, 'not-found') || isAriError(error, 'not-in-stasis')) return;
      this.#ctx.logger.error(
        { err: error, callId: this.callId },
        'could not hand the caller to the dialplan fallback',
      );
      return;
    }
    this.#ctx.logger.warn({ callId: this.callId, reason }, 'caller handed to the dialplan fallback');
    await this.#end('system', { reason: 'fallback', cause: reason, target: fallbackText(target) });
  }

  /** Stops every timer of this call without touching it: another instance carries on. */
  detach(): void {
    this.#detached = true;
    this.#lifetime.abort();
    clearTimeout(this.#announcementTimer);
  }

  /** Events for the channels and playbacks of this call. */
  handle(event: AriEvent): void {
    switch (event.type) {
      case 'StasisStart': {
        const id = event.channel.id;
        if (id === this.#snapshot.offer?.channelId && this.#ringing())
          void this.#takerAnswered(event.channel);
        else if (this.#agencyLeg(id)) void this.#agencyAnswered(id);
        else if (id === this.#snapshot.takerChannelId) {
          // Answered (Up) but not yet in the app when a reconciliation bridged it: bridge it now.
          if (this.#is('connected')) void this.#ensureBridged();
        }
        // Answered for an offer or agency call that has ended (its originate landed late).
        else if (id.startsWith(OFFER_CHANNEL_PREFIX) || id.startsWith(AGENCY_CHANNEL_PREFIX))
          void this.#dropStaleLeg(id);
        return;
      }
      case 'ChannelHangupRequest':
      case 'StasisEnd':
        this.#channelLeft(event.channel.id, event.type === 'ChannelHangupRequest' ? event.cause : undefined);
        return;
      case 'ChannelDestroyed':
        if (this.#agencyLeg(event.channel.id)) {
          void this.#agencyGone(event.channel.id, event.cause, event.cause_txt);
        } else if (event.channel.id === this.#snapshot.offer?.channelId && this.#ringing()) {
          void this.#offerFailed(offerFailureFromCause(event.cause), {
            cause: event.cause,
            causeText: event.cause_txt,
          });
        } else {
          this.#channelLeft(event.channel.id, event.cause);
        }
        return;
      case 'PlaybackFinished':
        if (event.playback.id === this.#greetingId) void this.#greetingFinished(event.playback.state);
        else if (event.playback.id === this.#announcementId) void this.#announcementFinished();
        else if (event.playback.id === this.#ivrPlaybackId && this.#is('releasing')) {
          void this.#end('system', { reason: 'released' });
        }
        return;
      case 'BridgeDestroyed':
        // Not by us (we destroy it once the call has ended): another ARI client tore it down and
        // left both parties in Stasis, in silence. Put them back together in a new one.
        if (event.bridge.id === this.#snapshot.bridgeId && this.#is('connected')) {
          this.#log('bridge-lost', { bridgeId: event.bridge.id });
          void this.#ensureBridged();
        }
        return;
      case 'ChannelDtmfReceived':
        if (event.channel.id !== this.#snapshot.callerChannelId) return;
        this.#heardPerson('key', event.digit);
        if (event.digit === '5') void this.#challengeAnswered(true);
        return;
      case 'ChannelTalkingStarted':
        if (event.channel.id !== this.#snapshot.callerChannelId) return;
        this.#heardPerson('speech');
        // Speaking answers the silent prompt as well as a key would: a person is there.
        if (this.#snapshot.challenge === 'silent') void this.#challengeAnswered(true);
        return;
      default:
        return;
    }
  }

  /** The queue reserved a taker for this call: ring the taker's phone. */
  offer(assignment: Assignment): void {
    // A detached session belongs to an instance that stood down: the new owner reclaims the taker.
    if (this.#detached) return;
    if (this.state !== 'queued') {
      // The call moved on (e.g. ended) between the queue's decision and now: hand the taker back.
      void this.#ctx.queue.withdraw(this.callId).then(() => this.#ctx.requestDispatch());
      return;
    }
    this.#transition('offered');
    this.#ring(assignment.takerId, assignment.endpoint);
  }

  /**
   * Called about once a second by the call center: a waiting call overflows when no taker is
   * logged in, or when it has waited past the bound.
   */
  async checkOverflow(loggedInTakers: number): Promise<void> {
    const { target, afterSeconds } = this.#ctx.settings.overflow;
    const now = this.#ctx.clock.now();
    if (!target || this.state !== 'queued' || now < this.#snapshot.overflowRetryAt) return;
    const waitedMs = now - this.#snapshot.place.enqueuedAt;
    const reason =
      loggedInTakers === 0 ? 'no-takers' : waitedMs >= afterSeconds * 1000 ? 'waited-too-long' : null;
    if (!reason) return;
    const { wasWaiting } = await this.#ctx.queue.withdraw(this.callId, { ifWaiting: true });
    // A dispatch took the call first: a taker is being rung, which beats any overflow.
    if (!wasWaiting || !this.#is('queued')) return;
    this.#transition('overflowing');
    this.#log('overflowing', { target, reason, waitedMs });
    this.#ctx.notify({ kind: 'overflow', callId: this.callId, detail: { target, reason, waitedMs } });
    this.#ring(null, target);
  }

  /** Rings a taker's phone (or the overflow target, takerId null) for this call. */
  #ring(takerId: string | null, endpoint: string): void {
    const attempt = this.#snapshot.offerAttempts + 1;
    const offer: Offer = { takerId, endpoint, channelId: offerChannelId(this.callId, attempt), attempt };
    this.#snapshot.offerAttempts = attempt;
    this.#snapshot.offer = offer;
    this.#ctx.claimChannel(offer.channelId, this);
    if (takerId) {
      this.#snapshot.record.offeredAt ??= new Date(this.#ctx.clock.now());
      this.#log('offered', { takerId, endpoint, attempt });
    }
    const { record } = this.#snapshot;
    if (takerId) this.#toDesk(takerId, 'offer', this.#screenPop());
    void this.#originateOffer(offer, {
      endpoint,
      channelId: offer.channelId,
      appArgs: takerId ? ['offer', this.callId, takerId] : ['overflow', this.callId],
      timeoutSeconds: this.#ctx.settings.ringTimeoutSeconds,
      callerId: record.callerNumber ?? 'unknown',
    });
    this.#guardRing(offer);
    this.#saveSnapshot();
  }

  /**
   * Rings the offer's phone. An originate whose answer was lost may be ringing it: the offer
   * stands (the taker stays reserved) while the same request goes again under the same channel
   * id (see originateOnce), so the call never rings a second taker meanwhile. Only Asterisk's
   * refusal, or no answer for the whole ring time, ends the offer here; a leg whose answer comes
   * after its offer has ended is hung up.
   */
  async #originateOffer(offer: Offer, request: OriginateRequest): Promise<void> {
    const { takerId, endpoint } = offer;
    const current = () => this.#snapshot.offer?.channelId === offer.channelId && this.#ringing();
    const outcome = await originateOnce(this.#ctx.ari, request, {
      clock: this.#ctx.clock,
      wanted: current,
      signal: this.#lifetime.signal,
      onUnanswered: (error, unanswered) => {
        if (unanswered > 1 || !current()) return;
        this.#unconfirmedLeg = offer.channelId;
        this.#ctx.logger.warn({ err: error, callId: this.callId, takerId, endpoint }, 'originate unanswered');
        this.#log('originate-unanswered', { takerId, attempt: offer.attempt, error: errorCode(error) });
      },
    });
    if (outcome.kind === 'created' && this.#unconfirmedLeg === offer.channelId)
      this.#unconfirmedLeg = undefined;
    if (this.#detached) return;
    if (!current()) {
      // Settled meanwhile (answered, failed, the call ended): anything but the taker leg rings for nothing.
      if (outcome.kind !== 'refused' || outcome.unanswered > 0) await this.#dropStaleLeg(offer.channelId);
      return;
    }
    if (outcome.kind === 'created') {
      if (outcome.unanswered > 0) {
        this.#log('originate-confirmed', { takerId, attempt: offer.attempt, unanswered: outcome.unanswered });
      }
      return;
    }
    const code = errorCode(outcome.error);
    this.#ctx.logger.warn({ err: outcome.error, callId: this.callId, takerId, endpoint }, 'originate failed');
    if (outcome.kind === 'unanswered') {
      void this.#offerFailed('originate-error', { error: code, reason: 'originate-unanswered' });
      return;
    }
    // 500 from Asterisk: the endpoint cannot be rung at all. Anything else is our side.
    void this.#offerFailed(code === 'asterisk' ? 'unreachable' : 'originate-error', { error: code });
  }

  /**
   * A leg of an offer (or an agency call) that has ended rings for nothing, or sits answered in
   * silence: hang it up.
   */
  async #dropStaleLeg(channelId: string): Promise<void> {
    // The new owner has the call's legs; the taker leg is the call's own.
    if (this.#detached || channelId === this.#snapshot.takerChannelId) return;
    this.#ctx.logger.info({ callId: this.callId, channelId }, 'hanging up a leg that has ended');
    await this.#ignoreGone(this.#ctx.ari.hangup(channelId));
  }

  /**
   * After the events socket was away: compare what we believe with the channels Asterisk still
   * has in our app, and act on what happened meanwhile (events sent then are lost for good).
   */
  async reconcile(
    liveChannelIds: ReadonlySet<string>,
    { asteriskRestarted = false }: { asteriskRestarted?: boolean } = {},
  ): Promise<void> {
    const snapshot = this.#snapshot;
    if (this.state === 'ended') {
      // Its record may not be written yet (this instance kept the call through an outage, or the
      // instance handling it ended it and stood down): finish that, and nothing else.
      await this.#flushNow();
      if (this.#snapshot.pendingEvents.length === 0) await this.#forget();
      return;
    }
    // A leg of an offer that had ended, answered while we were away (its StasisStart is lost).
    for (const legId of this.channelIds().slice(1)) {
      if (liveChannelIds.has(legId) && legId !== snapshot.offer?.channelId) await this.#dropStaleLeg(legId);
    }
    if (!liveChannelIds.has(snapshot.callerChannelId)) {
      this.#log('vanished', { channelId: snapshot.callerChannelId, asteriskRestarted });
      if (asteriskRestarted) {
        // The caller did not hang up: Asterisk restarted and cut every call (`lost`).
        this.#lost = true;
        await this.#end('system', { reason: 'asterisk-restarted' });
      } else await this.#end('caller');
      return;
    }
    if (this.state === 'connected') {
      for (const leg of [...snapshot.agencies]) {
        if (!liveChannelIds.has(leg.channelId)) await this.#agencyGone(leg.channelId, undefined, undefined);
        else if (leg.state === 'dialing' && (await this.#legState(leg.channelId)) === 'answered')
          await this.#agencyAnswered(leg.channelId);
      }
      if (!this.#is('connected')) return;
      const takerGone = snapshot.takerChannelId && !liveChannelIds.has(snapshot.takerChannelId);
      if (takerGone && !snapshot.takerLeft) {
        if (snapshot.agencies.some((leg) => leg.state === 'joined')) await this.#takerLeaves('hung-up');
        else await this.#end('taker');
      } else await this.#ensureBridged();
      return;
    }
    if (this.#ringing() && snapshot.offer) {
      const offer = snapshot.offer;
      const leg = await this.#legState(offer.channelId);
      if (leg === 'answered') await this.#takerAnswered(undefined);
      // Still ringing: Asterisk will tell us how it ends.
      else if (leg === 'ringing') this.#guardRing(offer);
      // Rung or not, we cannot tell: the taker is not blamed for it.
      else await this.#offerFailed('lost', { reason: 'gone-while-away' });
      return;
    }
    // In the screening IVR when the owner went away: fail open. A challenge counts as unanswered
    // (the call queues at low priority); a release that had begun is completed.
    if (this.state === 'challenging') {
      await this.#challengeAnswered(false);
      return;
    }
    if (snapshot.silent === 'unconfirmed') this.#releaseSilentLater();
    if (this.state === 'releasing') {
      await this.#end('system', { reason: 'released' });
      return;
    }
    // queued, as far as the snapshot knows. The instance that died may have reserved a taker and
    // rung them after its last snapshot: carry on with that offer if its leg exists, else drop the
    // reservation so the call is back in its place.
    if (await this.#adoptUnsavedOffer()) return;
    const released = await this.#ctx.queue.reclaim(this.callId, snapshot.place);
    if (released) this.#log('reservation-reclaimed', { takerId: released });
    if (snapshot.greetingDone) {
      void this.#ignoreGone(this.#ctx.ari.startMoh(snapshot.callerChannelId, this.#ctx.settings.mohClass));
      this.#scheduleAnnouncement();
    }
    // Back in the queue only: the call center dispatches once every call is reconciled, so no
    // assignment races the reconciliation of the call it picks.
    await this.#enqueue({ assign: false });
  }

  /**
   * Friction only for the suspicious: a clean history leaves the call as classified; a suspect
   * one is lowered, challenged (a key press proves a person is there) or warned and released.
   */
  async #screenThenEnqueue(identity: CallerIdentity): Promise<void> {
    let enqueued: Promise<void> | undefined;
    try {
      const outcome = this.#ctx.screen ? await this.#ctx.screen(identity, this.callId) : null;
      if (outcome) {
        this.#snapshot.record.screening = outcome;
        this.#log('screened', { ...outcome });
      }
      if (!this.#is('queued')) return; // the caller hung up while being screened
      const decision = outcome?.decision ?? 'connect';
      if (decision === 'connect-low') this.#setLevel(2);
      // The queue's request leaves before the answer's: the taker's phone first.
      if (decision === 'connect' || decision === 'connect-low') enqueued = this.#enqueue();
    } finally {
      this.#openAnswerGate();
    }
    if (enqueued) return enqueued;
    if (this.#snapshot.record.screening?.decision === 'challenge') await this.#challenge('screening');
    else if (this.#snapshot.record.screening?.decision === 'warn-and-release')
      await this.#warnAndRelease(identity);
  }

  get #ivrPlaybackId(): string {
    return `${this.callId}-ivr-${this.#snapshot.challenge ?? 'warning'}`;
  }

  /**
   * "Press 5 twice" (screening's challenge, or the prompt for a caller who has said nothing).
   * Any 5 passes: Asterisk can merge two quick identical key presses into one, and an emergency
   * line fails open. No key within the window: the call still queues, at low priority.
   */
  async #challenge(kind: 'screening' | 'silent'): Promise<void> {
    this.#transition('challenging');
    this.#snapshot.challenge = kind;
    this.#log('challenge', { kind });
    this.#saveSnapshot();
    const channelId = this.#snapshot.callerChannelId;
    if (!(await this.#answered) || !this.#is('challenging')) return;
    const { ari, settings } = this.#ctx;
    await Promise.all([
      this.#ignoreGone(ari.stopPlayback(this.#greetingId)),
      ...(this.#snapshot.announcements > 0 ? [this.#ignoreGone(ari.stopPlayback(this.#announcementId))] : []),
      this.#ignoreGone(ari.stopMoh(channelId)),
    ]);
    this.#snapshot.greetingDone = true;
    clearTimeout(this.#announcementTimer);
    const timer = this.#ctx.clock.setTimeout(
      () => void this.#challengeAnswered(false),
      settings.ivr.challengeWindowSeconds * 1000,
    );
    timer.unref();
    this.#lifetime.signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
    this.#challengeTimer = timer;
    const prompts = this.#ctx.prompts?.();
    const media =
      kind === 'silent'
        ? (prompts?.silent ?? settings.ivr.silentPromptMedia)
        : (prompts?.challenge ?? settings.ivr.challengeMedia);
    await this.#ignoreGone(ari.play(channelId, this.#ivrPlaybackId, [...media]));
  }

  async #challengeAnswered(passed: boolean): Promise<void> {
    if (!this.#is('challenging')) return;
    clearTimeout(this.#challengeTimer);
    const kind = this.#snapshot.challenge ?? 'screening';
    const playbackId = this.#ivrPlaybackId;
    this.#transition('queued');
    this.#snapshot.challenge = null;
    if (kind === 'silent') {
      this.#snapshot.silent = passed ? 'confirmed' : 'unconfirmed';
      this.#log(passed ? 'silent-confirmed' : 'silent-unconfirmed', {});
      // A person in danger who cannot speak goes first; a pocket dial waits at the back.
      if (passed) this.#setLevel(0);
      else {
        this.#setLevel(2);
        this.#releaseSilentLater();
      }
    } else {
      this.#log(passed ? 'challenge-passed' : 'challenge-unanswered', {});
      if (!passed) this.#setLevel(2);
    }
    await this.#ignoreGone(this.#ctx.ari.stopPlayback(playbackId));
    await this.#ignoreGone(
      this.#ctx.ari.startMoh(this.#snapshot.callerChannelId, this.#ctx.settings.mohClass),
    );
    this.#scheduleAnnouncement();
    await this.#enqueue();
  }

  /** Speech or a key while waiting: a person is there, no silent prompt for this call. */
  #heardPerson(how: 'speech' | 'key', digit?: string): void {
    if (this.#personHeard) return;
    this.#personHeard = true;
    clearTimeout(this.#silenceTimer);
    this.#log('person-heard', { how, ...(digit ? { digit } : {}) });
  }

  /** Armed on answer: a caller who neither speaks nor presses a key while waiting is prompted. */
  #watchSilence(): void {
    const seconds = this.#ctx.settings.ivr.silenceWindowSeconds;
    if (seconds <= 0 || this.#personHeard) return;
    void this.#ignoreGone(this.#ctx.ari.setVariable(this.#snapshot.callerChannelId, 'TALK_DETECT(set)', ''));
    const timer = this.#ctx.clock.setTimeout(() => void this.#silenceElapsed(), seconds * 1000);
    timer.unref();
    this.#lifetime.signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
    this.#silenceTimer = timer;
  }

  async #silenceElapsed(): Promise<void> {
    if (this.#personHeard || !this.#is('queued') || this.#snapshot.silent) return;
    // Only a call still waiting: a taker being rung or talking handles silence better than a prompt.
    const { wasWaiting } = await this.#ctx.queue.withdraw(this.callId, { ifWaiting: true });
    if (!wasWaiting || !this.#is('queued')) return;
    await this.#challenge('silent');
  }

  /** A silent caller who pressed nothing: a taker may still pick them; after a bound, released. */
  #releaseSilentLater(): void {
    const timer = this.#ctx.clock.setTimeout(async () => {
      if (!this.#is('queued')) return;
      const { wasWaiting } = await this.#ctx.queue.withdraw(this.callId, { ifWaiting: true });
      if (!wasWaiting || !this.#is('queued')) return;
      this.#silentRelease = true;
      await this.#end('system', { reason: 'silent' });
    }, this.#ctx.settings.ivr.silentReleaseSeconds * 1000);
    timer.unref();
    this.#lifetime.signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
  }

  #setLevel(level: PriorityLevel): void {
    this.#snapshot.place = { ...this.#snapshot.place, level };
    this.#snapshot.record.priority = level;
  }

  /** A recorded warning about misuse of 112, then siaga112 hangs up (disposition `released`). */
  async #warnAndRelease(identity: CallerIdentity): Promise<void> {
    this.#transition('releasing');
    this.#log('releasing', {});
    this.#ctx.released?.(identity);
    this.#saveSnapshot();
    const channelId = this.#snapshot.callerChannelId;
    const answered = await this.#answered;
    if (!this.#is('releasing')) return;
    if (!answered) {
      await this.#end('system', { reason: 'released' });
      return;
    }
    await this.#ignoreGone(this.#ctx.ari.stopPlayback(this.#greetingId));
    try {
      const warning = this.#ctx.prompts?.()?.warning ?? this.#ctx.settings.ivr.warningMedia;
      await this.#ctx.ari.play(channelId, this.#ivrPlaybackId, [...warning]);
    } catch {
      await this.#end('system', { reason: 'released', warning: 'failed' });
    }
  }

  async #adoptUnsavedOffer(): Promise<boolean> {
    const takerId = await this.#ctx.queue.offeredTaker(this.callId);
    if (!takerId) return false;
    const attempt = this.#snapshot.offerAttempts + 1;
    const channelId = offerChannelId(this.callId, attempt);
    const leg = await this.#legState(channelId);
    if (leg === 'gone') return false;
    const endpoint = (await this.#ctx.queue.getTaker(takerId))?.endpoint ?? '';
    const offer: Offer = { takerId, endpoint, channelId, attempt };
    this.#transition('offered');
    this.#snapshot.offerAttempts = attempt;
    this.#snapshot.offer = offer;
    this.#snapshot.record.offeredAt ??= new Date(this.#ctx.clock.now());
    this.#ctx.claimChannel(channelId, this);
    this.#log('offer-adopted', { takerId, channelId });
    this.#saveSnapshot();
    if (leg === 'answered') await this.#takerAnswered(undefined);
    else this.#guardRing(offer);
    return true;
  }

  /**
   * Whether a leg we originated (a taker's phone, an agency) was picked up while we were away.
   * Asterisk lists an originated channel among the app's channels from the moment it exists,
   * ringing or not, so only its state tells: `Up` once answered.
   */
  async #legState(channelId: string): Promise<'answered' | 'ringing' | 'gone'> {
    try {
      const channel = await this.#ctx.ari.getChannel(channelId);
      return channel.state === 'Up' ? 'answered' : 'ringing';
    } catch (error) {
      if (isAriError(error, 'not-found')) return 'gone';
      throw error;
    }
  }

  async #enqueue(options: { assign?: boolean } = {}): Promise<void> {
    // A caller who hung up while we awaited something (a challenge's prompt being stopped, the
    // music started) has been ended and forgotten: queueing would write the ended call's snapshot
    // back, for good. Checked just before the script: the end's withdraw and forget follow it.
    if (this.state === 'ended') return;
    try {
      // Bounded: with Redis unreachable ioredis can wait forever, and the caller with it.
      const assignment = await withTimeout(
        this.#ctx.queue.enqueue(this.callId, this.#snapshot.place, this.#serialized(), {
          assign: (options.assign ?? true) && this.#ctx.mayAssign(),
        }),
        QUEUE_TIMEOUT_MS,
        () => new Error(`queueing took longer than ${QUEUE_TIMEOUT_MS} ms`),
      );
      if (!assignment) return;
      if (assignment.callId === this.callId) this.offer(assignment);
      else this.#ctx.deliver(assignment);
    } catch (error) {
      this.#ctx.logger.error({ err: error, callId: this.callId }, 'could not queue the call');
      this.#log('queue-error', { message: error instanceof Error ? error.message : String(error) });
      await this.handOff('queue-error');
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
      } else if (!this.#handedOff) {
        // Nobody to serve: the caller's channel is gone or not in our app. Its ChannelDestroyed
        // usually ends the call too; a StasisStart delivered late or for a channel Asterisk never
        // had has none, and would otherwise wait in the queue and ring a taker for nobody.
        void this.#end('caller', { reason: 'gone-before-answer', error: error.code });
      }
      return false;
    }
    if (this.state === 'ended') return false;
    this.#snapshot.record.answeredAt = new Date(this.#ctx.clock.now());
    this.#log('answered', {});
    this.#ctx.recording?.answered(this.#recorded);
    this.#watchSilence();
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
    // Cut short by the caller hanging up: part of the ending, not a step after `ended`.
    if (this.state === 'ended') return;
    this.#log('greeting-finished', { playbackState });
    if (this.#waiting()) {
      await this.#ignoreGone(
        this.#ctx.ari.startMoh(this.#snapshot.callerChannelId, this.#ctx.settings.mohClass),
      );
      this.#scheduleAnnouncement();
    }
  }

  get #announcementId(): string {
    return `${this.callId}-announce-${this.#snapshot.announcements}`;
  }

  /** "Your call will be answered by the next available operator", every interval while waiting. */
  #scheduleAnnouncement(): void {
    const { intervalSeconds } = this.#ctx.settings.announcement;
    if (intervalSeconds <= 0) return;
    clearTimeout(this.#announcementTimer);
    this.#announcementTimer = this.#ctx.clock.setTimeout(() => void this.#announce(), intervalSeconds * 1000);
    this.#announcementTimer.unref();
  }

  async #announce(): Promise<void> {
    if (!this.#waiting()) return;
    const { media, withPosition } = this.#ctx.settings.announcement;
    const items = [...media];
    if (withPosition) {
      const position = await this.#ctx.queue.positionOf(this.callId).catch(() => null);
      if (position !== null)
        items.push('sound:queue-thereare', `number:${position}`, 'sound:queue-callswaiting');
    }
    if (!this.#waiting()) return;
    this.#snapshot.announcements += 1;
    const channelId = this.#snapshot.callerChannelId;
    await this.#ignoreGone(this.#ctx.ari.stopMoh(channelId));
    try {
      await this.#ctx.ari.play(channelId, this.#announcementId, items);
      this.#log('announced', { count: this.#snapshot.announcements });
    } catch (error) {
      if (!isAriError(error, 'not-found')) await this.#announcementFinished();
    }
  }

  async #announcementFinished(): Promise<void> {
    if (!this.#waiting()) return;
    await this.#ignoreGone(
      this.#ctx.ari.startMoh(this.#snapshot.callerChannelId, this.#ctx.settings.mohClass),
    );
    this.#scheduleAnnouncement();
  }

  async #takerAnswered(channel: AriChannel | undefined): Promise<void> {
    const offer = this.#snapshot.offer;
    if (!this.#ringing() || !offer) return;
    const now = this.#ctx.clock.now();
    const overflowed = this.state === 'overflowing';
    this.#transition('connected');
    clearTimeout(this.#announcementTimer);
    const snapshot = this.#snapshot;
    snapshot.takerChannelId = offer.channelId;
    snapshot.offer = null;
    snapshot.bridgeId = callBridgeId(this.callId);
    if (overflowed) {
      snapshot.overflowTarget = offer.endpoint;
      this.#log('overflowed', { target: offer.endpoint, channelName: channel?.name });
    } else {
      snapshot.record.connectedAt = new Date(now);
      snapshot.record.takerId = offer.takerId;
      snapshot.record.waitMs = now - snapshot.record.arrivedAt.getTime();
      this.#log('connected', { takerId: offer.takerId, channelName: channel?.name });
      if (offer.takerId) this.#toDesk(offer.takerId, 'connected', {});
    }
    this.#saveSnapshot();
    if (offer.takerId) void this.#ctx.queue.connect(offer.takerId, this.callId);

    // The bridging counts as in progress from here, not from when the caller's answer completes:
    // a taker leg's StasisStart delivered twice meanwhile must wait for it, not bridge again.
    const run = (async () => {
      if (!(await this.#answered) || !this.#is('connected')) return;
      await this.#bridgeNow([snapshot.callerChannelId, offer.channelId]);
    })();
    this.#bridging = run.catch(() => undefined);
    await run;
  }

  /** Joins `channelIds` in the call's bridge, after the caller's greeting and hold stop. */
  #bridge(channelIds: string[]): Promise<void> {
    const run = this.#bridgeNow(channelIds);
    this.#bridging = run.catch(() => undefined);
    return run;
  }

  async #bridgeNow(channelIds: string[]): Promise<void> {
    const ari = this.#ctx.ari;
    const snapshot = this.#snapshot;
    const bridgeId = snapshot.bridgeId ?? callBridgeId(this.callId);
    snapshot.bridgeId = bridgeId;
    const withCaller = channelIds.includes(snapshot.callerChannelId);
    await Promise.all([
      ...(withCaller
        ? [
            this.#ignoreGone(ari.stopPlayback(this.#greetingId)),
            ...(snapshot.announcements > 0 ? [this.#ignoreGone(ari.stopPlayback(this.#announcementId))] : []),
            this.#ignoreGone(ari.stopMoh(snapshot.callerChannelId)),
            // Asterisk will not bridge a channel it is recording: the caller's leg recording ends.
            ...(this.#ctx.recording ? [this.#ctx.recording.beforeBridge(this.#recorded)] : []),
          ]
        : []),
      // Creating a bridge that exists is an update in Asterisk: safe to repeat after a takeover.
      this.#ignoreGone(ari.createBridge(bridgeId, `siaga112 ${this.callId}`)),
    ]);
    if (!this.#is('connected')) {
      // Ended, or back in the queue, meanwhile: that path destroyed the bridge, but our create may
      // have landed after it.
      if (!this.#detached) await this.#ignoreGone(ari.destroyBridge(bridgeId));
      return;
    }
    try {
      await ari.addChannels(bridgeId, channelIds);
      if (this.#is('queued')) {
        // The answering leg dropped while we bridged: the caller must not wait in that bridge.
        await this.#ignoreGone(ari.destroyBridge(bridgeId));
        await this.#ignoreGone(ari.startMoh(snapshot.callerChannelId, this.#ctx.settings.mohClass));
        return;
      }
      // Ended meanwhile (a hang-up as the bridge formed): nothing to add after `ended`.
      if (!this.#is('connected')) return;
      this.#putThrough = true;
      this.#log('bridged', { bridgeId });
      this.#ctx.recording?.bridged(this.#recorded, bridgeId);
    } catch (error) {
      // One leg left while we bridged (a normal race): its hangup event ends the call. Once it
      // has, the failure is part of that ending, not a step of its own after `ended`.
      if (this.state === 'ended') return;
      const race = isAriError(error, 'not-found') || isAriError(error, 'not-in-stasis');
      this.#ctx.logger[race ? 'info' : 'warn']({ err: error, callId: this.callId }, 'bridging failed');
      this.#log('bridge-failed', { error: isAriError(error) ? error.code : String(error) });
    }
  }

  /**
   * A connected call adopted from another instance: finish the bridging it may not have done.
   * After the bridging in progress, if any: both would find the same channels missing and add
   * them twice (a taker leg's StasisStart delivered twice did so).
   */
  #ensureBridged(): Promise<void> {
    const turn = this.#bridging.then(() => this.#bridgeMissing());
    this.#bridging = turn.catch(() => undefined);
    return turn;
  }

  async #bridgeMissing(): Promise<void> {
    const { callerChannelId, takerChannelId, bridgeId, held, takerLeft, agencies } = this.#snapshot;
    if (!takerChannelId) return;
    const bridge = bridgeId ? (await this.#ctx.ari.listBridges()).find((b) => b.id === bridgeId) : undefined;
    const members = [
      ...(held ? [] : [callerChannelId]),
      ...(takerLeft ? [] : [takerChannelId]),
      ...agencies.filter((leg) => leg.state === 'joined').map((leg) => leg.channelId),
    ];
    const missing = members.filter((id) => !bridge?.channels.includes(id));
    if (missing.length > 0) await this.#bridge(missing);
  }

  /**
   * The ringing phone will not answer. A taker who missed it goes on break `missed` (and a
   * supervisor is told); an unreachable phone leaves rotation. The call goes back to its own
   * place at the head of its level, never behind newer calls.
   */
  async #offerFailed(
    failure: OfferFailure | 'originate-error' | 'lost',
    detail: Record<string, unknown>,
  ): Promise<void> {
    const offer = this.#snapshot.offer;
    if (!this.#ringing() || !offer) return;
    const overflow = this.state === 'overflowing';
    this.#transition('queued');
    this.#snapshot.offer = null;
    const { takerId } = offer;
    this.#log(overflow ? 'overflow-failed' : 'offer-failed', {
      takerId,
      endpoint: offer.endpoint,
      attempt: offer.attempt,
      failure,
      ...detail,
    });
    if (overflow) {
      this.#snapshot.overflowRetryAt = this.#ctx.clock.now() + OVERFLOW_RETRY_MS;
      this.#ctx.notify({
        kind: 'overflow-failed',
        callId: this.callId,
        detail: { target: offer.endpoint, failure },
      });
    } else if (takerId && failure === 'missed') {
      this.#ctx.notify({ kind: 'ring-no-answer', takerId, callId: this.callId, detail });
    } else if (takerId && failure === 'unreachable') {
      this.#ctx.notify({ kind: 'softphone-unreachable', takerId, callId: this.callId, detail });
    }
    await this.#ignoreGone(this.#ctx.ari.hangup(offer.channelId));
    // A failure on our side (ARI timeout, a leg lost while we were away) is not the taker's
    // fault: they stay in rotation.
    const taker = takerId
      ? failure === 'originate-error' || failure === 'lost'
        ? { takerId, state: 'available' as const, reason: 'offer-error' }
        : { takerId, state: 'break' as const, reason: failure }
      : null;
    try {
      await this.#ctx.queue.requeue(this.callId, this.#snapshot.place, taker);
      this.#saveSnapshot();
    } catch (error) {
      this.#ctx.logger.error({ err: error, callId: this.callId }, 'could not requeue the call');
    }
    if (this.#snapshot.greetingDone) this.#scheduleAnnouncement();
    this.#ctx.requestDispatch();
  }

  /**
   * The phone answered, then failed (a cause other than a person hanging up: network lost,
   * destination out of order) before the caller was put through to it: nobody has spoken to the
   * caller, so the call is not over. As with an unreachable phone while ringing, it goes back to
   * its own place at the head of its level, on hold, and the taker out of rotation (`break`,
   * `unreachable`); an overflow target that did so is tried again later.
   */
  async #droppedBeforeBridge(cause: number | undefined): Promise<void> {
    const snapshot = this.#snapshot;
    const { record } = snapshot;
    const { takerId } = record;
    const legId = snapshot.takerChannelId;
    const bridgeId = snapshot.bridgeId;
    this.#transition('queued');
    snapshot.takerChannelId = null;
    snapshot.bridgeId = null;
    if (snapshot.overflowTarget) {
      snapshot.overflowTarget = null;
      snapshot.overflowRetryAt = this.#ctx.clock.now() + OVERFLOW_RETRY_MS;
    }
    record.connectedAt = null;
    record.takerId = null;
    record.waitMs = null;
    this.#log('taker-dropped', { takerId, channelId: legId, cause });
    if (takerId) {
      // For this taker the call is over; the caller waits for the next one.
      this.#toDesk(takerId, 'ended', {
        endedBy: 'taker',
        disposition: null,
        reason: 'dropped-before-bridge',
      });
      this.#ctx.notify({
        kind: 'softphone-unreachable',
        takerId,
        callId: this.callId,
        detail: { reason: 'dropped-before-bridge', cause },
      });
    }
    const { ari, settings, queue } = this.#ctx;
    if (bridgeId) await this.#ignoreGone(ari.destroyBridge(bridgeId));
    await this.#ignoreGone(ari.startMoh(snapshot.callerChannelId, settings.mohClass));
    try {
      await queue.requeue(
        this.callId,
        snapshot.place,
        takerId ? { takerId, state: 'break', reason: 'unreachable' } : null,
      );
      this.#saveSnapshot();
    } catch (error) {
      this.#ctx.logger.error({ err: error, callId: this.callId }, 'could not requeue the call');
    }
    this.#scheduleAnnouncement();
    this.#ctx.requestDispatch();
  }

  /**
   * A command from the taker's desk. Refused (with the reason) unless the call is connected to
   * that taker; the outcome reaches the desk as events and the timeline as call events.
   */
  async command(takerId: string, command: CallCommand): Promise<CommandRefusal | null> {
    if (this.#detached || !this.#is('connected') || this.#snapshot.takerLeft) return 'not-connected';
    if (this.#snapshot.record.takerId !== takerId) return 'not-your-call';
    switch (command.kind) {
      case 'hold':
        return this.#hold(takerId);
      case 'resume':
        return this.#resume(takerId);
      case 'conference':
        return this.#dialAgency(takerId, command.agencyId, command.handOver);
      case 'leave':
        if (!this.#snapshot.agencies.some((leg) => leg.state === 'joined')) return 'no-agency';
        await this.#takerLeaves('left');
        return null;
    }
  }

  /** The caller leaves the bridge and hears music; the taker can talk to an agency meanwhile. */
  async #hold(takerId: string): Promise<CommandRefusal | null> {
    const snapshot = this.#snapshot;
    if (snapshot.held) return 'already';
    snapshot.held = true;
    this.#log('held', { takerId });
    this.#saveSnapshot();
    const { ari, settings } = this.#ctx;
    if (snapshot.bridgeId) {
      await this.#ignoreGone(ari.removeChannels(snapshot.bridgeId, [snapshot.callerChannelId]));
    }
    await this.#ignoreGone(ari.startMoh(snapshot.callerChannelId, settings.mohClass));
    this.#toDesk(takerId, 'held', {});
    return null;
  }

  async #resume(takerId: string): Promise<CommandRefusal | null> {
    const snapshot = this.#snapshot;
    if (!snapshot.held) return 'already';
    snapshot.held = false;
    this.#log('resumed', { takerId });
    this.#saveSnapshot();
    await this.#ignoreGone(this.#ctx.ari.stopMoh(snapshot.callerChannelId));
    await this.#bridge([snapshot.callerChannelId]);
    this.#toDesk(takerId, 'resumed', {});
    return null;
  }

  /** Dials an agency through its trunk; once it answers it joins the call's bridge. */
  async #dialAgency(takerId: string, agencyId: string, handOver: boolean): Promise<CommandRefusal | null> {
    const agency = this.#ctx.settings.agencies.find((a) => a.id === agencyId);
    if (!agency) return 'unknown-agency';
    const snapshot = this.#snapshot;
    if (snapshot.agencies.some((leg) => leg.agencyId === agencyId)) return 'already';
    const leg: AgencyLeg = {
      agencyId,
      channelId: `${AGENCY_CHANNEL_PREFIX}${this.callId}-${agencyId}-${snapshot.agencies.length + 1}`,
      state: 'dialing',
      handOver,
    };
    snapshot.agencies.push(leg);
    this.#ctx.claimChannel(leg.channelId, this);
    this.#log('agency-dialing', { takerId, agencyId, agency: agency.name, dial: agency.dial, handOver });
    this.#saveSnapshot();
    this.#toDesk(takerId, 'agency-dialing', { agencyId, agency: agency.name, handOver });
    // An originate whose answer was lost may be ringing the agency: asked again under the same id.
    const outcome = await originateOnce(
      this.#ctx.ari,
      {
        endpoint: agency.dial,
        channelId: leg.channelId,
        appArgs: ['agency', this.callId, agencyId],
        timeoutSeconds: this.#ctx.settings.agencyRingSeconds,
        callerId: '112',
      },
      {
        clock: this.#ctx.clock,
        wanted: () => this.#agencyLeg(leg.channelId)?.state === 'dialing',
        signal: this.#lifetime.signal,
      },
    );
    if (outcome.kind === 'created' && this.#agencyLeg(leg.channelId)) return null;
    // Not created, or created for a leg that has ended meanwhile: it must not ring on.
    if (outcome.kind !== 'refused' || outcome.unanswered > 0) await this.#dropStaleLeg(leg.channelId);
    if (outcome.kind !== 'created') {
      await this.#agencyGone(leg.channelId, undefined, `could not dial: ${errorCode(outcome.error)}`);
    }
    return null;
  }

  #agencyLeg(channelId: string): AgencyLeg | undefined {
    return this.#snapshot.agencies.find((leg) => leg.channelId === channelId);
  }

  async #agencyAnswered(channelId: string): Promise<void> {
    const leg = this.#agencyLeg(channelId);
    if (leg?.state !== 'dialing') return;
    if (!this.#is('connected')) {
      await this.#ignoreGone(this.#ctx.ari.hangup(channelId));
      return;
    }
    leg.state = 'joined';
    this.#log('agency-joined', { agencyId: leg.agencyId });
    this.#saveSnapshot();
    await this.#bridge([channelId]);
    const takerId = this.#snapshot.record.takerId;
    if (takerId && !this.#snapshot.takerLeft)
      this.#toDesk(takerId, 'agency-joined', { agencyId: leg.agencyId });
    // Blind hand-over: the caller is with the agency now.
    if (leg.handOver && !this.#snapshot.takerLeft) await this.#takerLeaves('handed-over');
  }

  /**
   * An agency leg ended: unanswered or refused while dialing (control stays with the taker, who is
   * told why), or the agency hung up. A caller handed over and left alone is hung up.
   */
  async #agencyGone(
    channelId: string,
    cause: number | undefined,
    causeText: string | undefined,
  ): Promise<void> {
    const snapshot = this.#snapshot;
    const leg = this.#agencyLeg(channelId);
    if (!leg) return;
    snapshot.agencies = snapshot.agencies.filter((other) => other !== leg);
    const joined = leg.state === 'joined';
    const reason = joined ? 'hung-up' : agencyFailure(cause, causeText);
    this.#log(joined ? 'agency-left' : 'agency-failed', { agencyId: leg.agencyId, reason, cause });
    this.#saveSnapshot();
    const takerId = snapshot.record.takerId;
    if (takerId && !snapshot.takerLeft) {
      this.#toDesk(takerId, joined ? 'agency-left' : 'agency-failed', { agencyId: leg.agencyId, reason });
    }
    if (snapshot.takerLeft && !snapshot.agencies.some((other) => other.state === 'joined')) {
      await this.#end('system', { reason: 'agency-left' });
    }
  }

  /** The taker leaves a call an agency has joined: the call goes on, the taker is free. */
  async #takerLeaves(how: 'left' | 'handed-over' | 'hung-up'): Promise<void> {
    const snapshot = this.#snapshot;
    const takerId = snapshot.record.takerId;
    if (snapshot.takerLeft || !takerId) return;
    snapshot.takerLeft = true;
    this.#log('handed-over', { takerId, how, agencies: snapshot.agencies.map((leg) => leg.agencyId) });
    this.#saveSnapshot();
    this.#toDesk(takerId, 'handed-over', { how });
    if (snapshot.held) {
      snapshot.held = false;
      await this.#ignoreGone(this.#ctx.ari.stopMoh(snapshot.callerChannelId));
      await this.#bridge([snapshot.callerChannelId]);
    }
    if (how !== 'hung-up' && snapshot.takerChannelId) {
      await this.#ignoreGone(this.#ctx.ari.hangup(snapshot.takerChannelId));
    }
    // Free the taker only once their leg is hung up: their phone never holds two calls.
    try {
      await this.#releaseTaker(takerId);
    } catch (error) {
      // Redis away: the taker stays on-call in the queue until a supervisor sets their state.
      this.#ctx.logger.error(
        { err: error, callId: this.callId, takerId },
        'could not free the taker after a hand-over',
      );
    }
  }

  /** The screen pop: who is calling, on which trunk, what the IVR and screening found. */
  #screenPop(): Record<string, unknown> {
    const { record, place, silent } = this.#snapshot;
    return {
      callerNumber: record.callerNumber,
      callerIdRaw: record.callerIdRaw,
      callerIdKind: record.callerIdKind,
      trunk: record.trunk,
      category: place.category,
      priority: place.level,
      silent,
      screening: record.screening,
      arrivedAt: record.arrivedAt.toISOString(),
      attempt: this.#snapshot.offerAttempts,
    };
  }

  #toDesk(takerId: string, type: DeskEvent['type'], detail: Record<string, unknown>): void {
    if (this.#detached) return;
    this.#ctx.desk?.(takerId, { type, callId: this.callId, detail });
  }

  #channelLeft(channelId: string, cause: number | undefined): void {
    const { callerChannelId, takerChannelId, offer } = this.#snapshot;
    if (channelId === callerChannelId && this.#handedOff) void this.#end('system', { reason: 'fallback' });
    else if (channelId === callerChannelId) void this.#end('caller', { cause });
    else if (this.#agencyLeg(channelId)) void this.#agencyGone(channelId, cause, undefined);
    else if (channelId === takerChannelId && this.state === 'connected') {
      // With an agency on the line, the taker hanging up hands the caller over to it.
      if (this.#snapshot.agencies.some((leg) => leg.state === 'joined')) void this.#takerLeaves('hung-up');
      // A phone that fails (not a person hanging up) before the caller heard anyone.
      else if (!this.#putThrough && offerFailureFromCause(cause) === 'unreachable')
        void this.#droppedBeforeBridge(cause);
      else if (!this.#snapshot.takerLeft) void this.#end('taker', { cause });
    } else if (channelId === offer?.channelId && this.#ringing()) {
      void this.#offerFailed(offerFailureFromCause(cause), { cause, reason: 'hung-up-while-ringing' });
    }
  }

  async #end(endedBy: 'caller' | 'taker' | 'system', detail: Record<string, unknown> = {}): Promise<void> {
    if (this.state === 'ended' || this.#detached) return;
    const previous = this.state;
    const snapshot = this.#snapshot;
    const offer = snapshot.offer;
    const now = this.#ctx.clock.now();
    this.#transition('ended');
    this.#lifetime.abort();
    clearTimeout(this.#announcementTimer);
    const record = snapshot.record;
    const disposition: Disposition = record.connectedAt
      ? 'connected'
      : snapshot.overflowTarget || this.#handedOff
        ? 'overflowed'
        : previous === 'releasing'
          ? 'released'
          : this.#silentRelease
            ? 'silent'
            : this.#lost
              ? 'lost'
              : 'abandoned';
    record.endedAt = new Date(now);
    record.endedBy = endedBy;
    record.disposition = disposition;
    record.waitMs ??= now - record.arrivedAt.getTime();
    record.talkMs = record.connectedAt ? now - record.connectedAt.getTime() : null;
    this.#log('ended', { endedBy, disposition, ...detail });
    // A caller handed to the fallback has left Stasis, while the snapshot in Redis says waiting:
    // an instance adopting the call from it would take the caller for one who hung up. Said at
    // once, ahead of the record write, which Redis being slow or away can hold up for long.
    if (this.#handedOff) this.#saveEndedSnapshot();

    const ari = this.#ctx.ari;
    const cleanup: Array<Promise<unknown>> = [];
    if (previous === 'queued' || previous === 'offered' || previous === 'overflowing') {
      cleanup.push(this.#ctx.queue.withdraw(this.callId).then(() => this.#ctx.requestDispatch()));
      if (offer) cleanup.push(this.#ignoreGone(ari.hangup(offer.channelId)));
    }
    if (previous === 'connected') {
      const { takerId } = record;
      const takerLeg = snapshot.takerChannelId;
      for (const leg of snapshot.agencies) cleanup.push(this.#ignoreGone(ari.hangup(leg.channelId)));
      if (takerId && !snapshot.takerLeft) this.#toDesk(takerId, 'ended', { endedBy, disposition });
      if (snapshot.takerLeft) {
        // Handed over: the taker was freed when they left.
      } else if (endedBy === 'taker' || !takerLeg) {
        // The taker's phone has hung up already: free them first, so a waiting call rings at once.
        if (takerId) cleanup.push(this.#releaseTaker(takerId));
      } else {
        // Free the taker only once their leg is hung up: their phone never holds two calls.
        cleanup.push(
          this.#ignoreGone(ari.hangup(takerLeg)).then(() =>
            takerId ? this.#releaseTaker(takerId) : undefined,
          ),
        );
      }
    }
    if (snapshot.bridgeId) {
      const bridgeId = snapshot.bridgeId;
      // The bridge's recording is stopped first: its file is closed and its end heard.
      const recorded = this.#ctx.recording?.beforeBridgeDestroyed(this.#recorded) ?? Promise.resolve();
      cleanup.push(recorded.then(() => this.#ignoreGone(ari.destroyBridge(bridgeId))));
    }
    // A caller handed to the fallback is the dialplan's now: a hangup would cut them off there.
    if (endedBy !== 'caller' && !this.#handedOff)
      cleanup.push(this.#ignoreGone(ari.hangup(snapshot.callerChannelId)));
    await Promise.allSettled(cleanup);

    await this.#flushNow();
    // Forget the call only once its last events are durably queued (a failed write retries and
    // forgets then), and never when another instance has taken it over meanwhile.
    if (this.#snapshot.pendingEvents.length === 0) await this.#forget();
  }

  async #forget(): Promise<void> {
    if (this.#detached || this.#forgotten) return;
    this.#forgotten = true;
    try {
      await this.#ctx.queue.forget(this.callId);
    } catch (error) {
      this.#ctx.logger.error({ err: error, callId: this.callId }, 'could not forget the ended call');
    }
    this.#ctx.ended(this);
  }

  /** The taker wraps up, then is available again by itself (the queue promotes them when due). */
  async #releaseTaker(takerId: string): Promise<void> {
    const wrapUpMs = this.#ctx.settings.wrapUpSeconds * 1000;
    const { state, assignment } = await this.#ctx.queue.release(takerId, this.callId, wrapUpMs, {
      assign: this.#ctx.mayAssign(),
    });
    if (assignment) this.#ctx.deliver(assignment);
    if (state === 'available') this.#ctx.requestDispatch();
    else if (state === 'wrap-up') this.#ctx.requestDispatchAt(this.#ctx.clock.now() + wrapUpMs);
  }

  /** Asterisk decides ring-no-answer; this only ends the wait if its verdict never arrives. */
  #guardRing(offer: Offer): void {
    // Asterisk's ring timeout runs on call time; the guard past it is a real-time margin.
    const ms = (this.#ctx.settings.ringTimeoutSeconds * 1000) / this.#ctx.clock.rate + RING_GUARD_MS;
    const timer = setTimeout(() => {
      if (this.#snapshot.offer?.channelId !== offer.channelId) return;
      // Asterisk never answered the originate: whether the phone rang at all is unknown, and not
      // the taker's doing.
      if (this.#unconfirmedLeg === offer.channelId) {
        void this.#offerFailed('originate-error', { reason: 'originate-unanswered' });
      } else void this.#offerFailed('missed', { reason: 'no-verdict-from-asterisk' });
    }, ms);
    timer.unref();
    this.#lifetime.signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
  }

  /** A phone is ringing for this call: a taker's, or the overflow target's. */
  #ringing(): boolean {
    return !this.#detached && (this.state === 'offered' || this.state === 'overflowing');
  }

  /** The caller is on hold: waiting in the queue or while a phone rings for them. */
  #waiting(): boolean {
    return !this.#detached && (this.state === 'queued' || this.#ringing());
  }

  /** Re-reads the state after an await (TypeScript would keep the narrowing from before it). */
  #is(state: CallState): boolean {
    return !this.#detached && this.#snapshot.state === state;
  }

  #transition(to: CallState): void {
    assertTransition(this.callId, this.#snapshot.state, to);
    this.#snapshot.state = to;
  }

  #log(type: string, detail: Record<string, unknown>): void {
    const snapshot = this.#snapshot;
    snapshot.pendingEvents.push({
      callId: this.callId,
      seq: 0, // numbered when written, from a counter every instance shares
      at: new Date(this.#ctx.clock.now()),
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
    // Once detached, the new owner writes this call's record; a stale write here could win.
    if (snapshot.pendingEvents.length === 0 || this.#detached) return;
    const events = snapshot.pendingEvents;
    snapshot.pendingEvents = [];
    this.#inFlight = events;
    try {
      const unnumbered = events.filter((event) => event.seq === 0);
      // The ending is written by one instance only: two may hold an ended call after a takeover.
      const slots = await this.#ctx.queue.reserveRecordSlots(this.callId, unnumbered.length, {
        ...(this.state === 'ended' ? { finalWriter: this.#writer } : {}),
      });
      if (!slots) {
        this.#ctx.logger.info({ callId: this.callId }, 'the call ended as another instance wrote it');
        this.#endingWrittenElsewhere = true;
        snapshot.pendingEvents = [];
        await this.#forget();
        return;
      }
      const { version, firstSeq } = slots;
      unnumbered.forEach((event, i) => {
        event.seq = firstSeq + i;
      });
      snapshot.record.version = version;
      // The snapshot learns the numbers before the write: a process that dies between the write
      // and the next snapshot leaves its adopter these numbers to write again (the same rows),
      // where unnumbered events would be numbered anew and land twice.
      if (unnumbered.length > 0 && this.state !== 'ended') {
        await this.#ctx.queue.saveSnapshot(this.callId, this.#serialized());
      }
      await this.#ctx.recorder.write({ record: { ...snapshot.record }, events });
      // The next snapshot leaves these out. Until then an instance adopting the call writes them
      // again under the same numbers, which changes nothing (writes are idempotent).
      this.#inFlight = [];
      if (this.state === 'ended' && snapshot.pendingEvents.length === 0) await this.#forget();
    } catch (error) {
      // Keep them for the next write: a record is delayed, never dropped.
      this.#inFlight = [];
      snapshot.pendingEvents = [...events, ...snapshot.pendingEvents];
      this.#ctx.logger.warn({ err: error, callId: this.callId }, 'record write failed; will retry');
      const retry = setTimeout(() => void this.#flushNow(), FLUSH_RETRY_MS);
      if (this.state !== 'ended') {
        this.#lifetime.signal.addEventListener('abort', () => clearTimeout(retry), { once: true });
      }
    }
  }

  /**
   * Saves the snapshot once per event-loop turn, however many steps the call took in it: the
   * write goes out at the end of the turn with the state then. A call that ended meanwhile is
   * not saved (it is forgotten instead).
   */
  #saveSnapshot(): void {
    if (this.#saveScheduled || this.state === 'ended' || this.#detached) return;
    this.#saveScheduled = true;
    setImmediate(() => {
      this.#saveScheduled = false;
      // Ended or handed on within this turn: the snapshot is no longer ours to write.
      if (this.state === 'ended' || this.#detached) return;
      this.#ctx.queue.saveSnapshot(this.callId, this.#serialized()).catch((error: unknown) => {
        this.#ctx.logger.warn({ err: error, callId: this.callId }, 'could not save the call snapshot');
        // A waiting call no instance could re-adopt must not stay in Stasis on this one alone.
        void this.handOff('snapshot-error');
      });
    });
  }

  /** The snapshot as saved: with the events whose record write is under way. */
  #serialized(): string {
    const snapshot = this.#snapshot;
    if (this.#inFlight.length === 0) return serializeSnapshot(snapshot);
    return serializeSnapshot({ ...snapshot, pendingEvents: [...this.#inFlight, ...snapshot.pendingEvents] });
  }

  /** The call's snapshot as it ended, for any instance that adopts it before its record is written. */
  #saveEndedSnapshot(): void {
    this.#ctx.queue.saveSnapshot(this.callId, serializeSnapshot(this.#snapshot)).catch((error: unknown) => {
      this.#ctx.logger.warn({ err: error, callId: this.callId }, 'could not save the ended call snapshot');
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

function errorCode(error: unknown): string {
  return isAriError(error) ? error.code : 'unknown';
}

function fallbackText(target: DialplanTarget): string {
  return `${target.context},${target.extension},${target.priority}`;
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
