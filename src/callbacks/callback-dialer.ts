/**
 * Calls a caller back for a call taker: rings the taker's phone first, then (once they answer)
 * the caller through the trunk the call came in on, and bridges the two. Either side hanging up
 * ends the callback and tears down the other leg and the bridge. A caller not reached is
 * retried on the schedule; the taker is freed. Every step is appended to the original call's
 * timeline. Runs where the ARI events are (the lease holder); claims come from any instance.
 */
import type { AriEvent } from '../ari/ari-models.ts';
import { type AriPort, isAriError, type OriginateRequest } from '../ari/ari-port.ts';
import { originateOnce } from '../ari/originate-once.ts';
import type { Clock } from '../clock.ts';
import type { Logger } from '../logger.ts';
import type { CallQueue } from '../queues/call-queue.ts';
import type { DeskEvent } from '../queues/desk-events.ts';
import type { TakerState } from '../queues/taker-state.ts';
import type { Callback, CallbackRepository } from '../records/callback-repository.ts';
import type { ChannelHandler } from '../routing/call-center.ts';
import { offerFailureFromCause } from '../routing/offer-outcome.ts';
import type { CallTimeline, TimelineEvent } from './call-timeline.ts';
import type { CallbackJobQueue } from './callback-jobs.ts';
import {
  afterAttempt,
  CALLBACK_CHANNEL_PREFIX,
  type CallbackOutcome,
  callbackBridgeId,
  callbackChannelId,
  callerDialString,
  notReachedFromCause,
  parseCallbackChannelId,
} from './callback-policy.ts';

export interface CallbackSettings {
  /** How long the taker's phone rings (RING_TIMEOUT_SECONDS). */
  takerRingSeconds: number;
  /** How long the caller's phone rings (CALLBACK_RING_SECONDS). */
  callerRingSeconds: number;
  /** Waits before each retry (CALLBACK_RETRY_MINUTES). */
  retryDelaysMs: readonly number[];
  /** After a callback that reached the caller, the taker wraps up this long. */
  wrapUpSeconds: number;
}

export interface CallbackDialerDeps {
  ari: AriPort;
  queue: Pick<CallQueue, 'reserveTaker' | 'connect' | 'release' | 'setTakerState'>;
  callbacks: CallbackRepository;
  timeline: CallTimeline;
  jobs: Pick<CallbackJobQueue, 'scheduleDue'>;
  /** The taker's phone, from the call-taker directory. */
  findTaker(takerId: string): Promise<{ id: string; endpoint: string } | undefined>;
  settings: CallbackSettings;
  clock: Clock;
  logger: Logger;
  /** A taker is free again: offer waiting calls. */
  requestDispatch(): void;
  /** The claim was made on an instance without the ARI events: tell the one that has them. */
  announceClaim(callbackId: string): void;
  /** Tells the taker's desk: the screen pop names the call being returned. */
  desk?(takerId: string, event: Omit<DeskEvent, 'at'>): void;
}

export type ClaimResult =
  | { kind: 'claimed'; callback: Callback; attempt: number }
  | { kind: 'not-found' }
  | { kind: 'taker-not-found' }
  | { kind: 'not-pending'; status: Callback['status'] }
  | { kind: 'taker-busy'; state: TakerState | null };

type Phase = 'ringing-taker' | 'dialing-caller' | 'connected' | 'ended';

interface Attempt {
  readonly callback: Callback;
  readonly attempt: number;
  readonly takerId: string;
  readonly takerChannel: string;
  readonly callerChannel: string;
  readonly bridgeId: string;
  phase: Phase;
  guard: NodeJS.Timeout | undefined;
  /** Aborted when the attempt ends: an originate still being repeated stops. */
  readonly lifetime: AbortController;
}

/** Past Asterisk's own ring timeout, how long we wait for its verdict before ending the wait. */
const RING_GUARD_MS = 5000;

export class CallbackDialer implements ChannelHandler {
  readonly prefix = CALLBACK_CHANNEL_PREFIX;
  readonly #deps: CallbackDialerDeps;
  readonly #attempts = new Map<string, Attempt>();
  /** Events of one callback are handled one after another. */
  readonly #chains = new Map<string, Promise<void>>();
  /** Claims being made in this process, not yet dialling: recovery leaves them alone. */
  readonly #claiming = new Set<string>();

  constructor(deps: CallbackDialerDeps) {
    this.#deps = deps;
  }

  /** Callbacks being dialled or talking in this process. */
  get active(): number {
    return this.#attempts.size;
  }

  /**
   * A taker claims a callback: the taker must be available (112 calls come first) and is held
   * `reserved` so no call is offered meanwhile; the callback must be pending (or due).
   */
  async claim(callbackId: string, takerId: string): Promise<ClaimResult> {
    const { callbacks, queue, clock } = this.#deps;
    const callback = await callbacks.get(callbackId);
    if (!callback) return { kind: 'not-found' };
    const taker = await this.#deps.findTaker(takerId);
    if (!taker) return { kind: 'taker-not-found' };
    const due = callback.status === 'scheduled' && (callback.nextAttemptAt?.getTime() ?? 0) <= clock.now();
    if (callback.status !== 'pending' && !due) return { kind: 'not-pending', status: callback.status };
    const reserved = await queue.reserveTaker(takerId, callback.callId, 'callback');
    if (!reserved.reserved) return { kind: 'taker-busy', state: reserved.state };
    this.#claiming.add(callbackId);
    try {
      return await this.#claimReserved(callback, takerId, taker.endpoint);
    } finally {
      this.#claiming.delete(callbackId);
    }
  }

  async #claimReserved(callback: Callback, takerId: string, endpoint: string): Promise<ClaimResult> {
    const { callbacks, queue, clock } = this.#deps;
    const callbackId = callback.id;
    let claimed: Callback | undefined;
    try {
      claimed = await callbacks.claim(callbackId, takerId, new Date(clock.now()));
    } catch (error) {
      // Postgres away: the taker must not stay held for a claim that never happened.
      await queue.release(takerId, callback.callId, 0, { assign: false });
      this.#deps.requestDispatch();
      throw error;
    }
    if (!claimed) {
      // Someone else was first: the taker goes back to where they were, free.
      await queue.release(takerId, callback.callId, 0, { assign: false });
      this.#deps.requestDispatch();
      const now = await callbacks.get(callbackId);
      return { kind: 'not-pending', status: now?.status ?? callback.status };
    }
    const attempt = claimed.attempts + 1;
    await this.#trace(claimed, [{ type: 'callback-claimed', detail: { callbackId, takerId, attempt } }]);
    if (this.#deps.ari.connected) this.#start(claimed, endpoint);
    else this.#deps.announceClaim(callbackId);
    return { kind: 'claimed', callback: claimed, attempt };
  }

  /** A claim made on another instance: dial it here (this instance has the ARI events). */
  async startClaimed(callbackId: string): Promise<void> {
    if (!this.#deps.ari.connected || this.#attempts.has(callbackId)) return;
    const callback = await this.#deps.callbacks.get(callbackId);
    if (callback?.status !== 'claimed' || !callback.claimedBy) return;
    const taker = await this.#deps.findTaker(callback.claimedBy);
    if (taker) this.#start(callback, taker.endpoint);
  }

  handle(event: AriEvent): void {
    if (!('channel' in event) || !event.channel) return;
    const leg = parseCallbackChannelId(event.channel.id);
    if (!leg) return;
    const previous = this.#chains.get(leg.callbackId) ?? Promise.resolve();
    const next = previous
      .then(() => this.#handle(event, leg))
      .catch((error: unknown) => {
        this.#deps.logger.error({ err: error, callbackId: leg.callbackId }, 'callback event failed');
      });
    this.#chains.set(leg.callbackId, next);
    void next.then(() => {
      if (this.#chains.get(leg.callbackId) === next) this.#chains.delete(leg.callbackId);
    });
  }

  /**
   * After this instance took call control (a restart, a takeover): callbacks left claimed or
   * dialling by a process that is gone have lost their dialer. Their legs are hung up, the
   * callback is pending again (the attempt not counted) and the taker freed.
   */
  async recover(): Promise<void> {
    const { callbacks, queue, ari } = this.#deps;
    for (const callback of await callbacks.list(['claimed', 'dialing'], 500)) {
      if (this.#attempts.has(callback.id) || this.#claiming.has(callback.id)) continue;
      const attempt = callback.status === 'claimed' ? callback.attempts + 1 : callback.attempts;
      await Promise.all([
        this.#hangup(callbackChannelId(callback.id, attempt, 'taker')),
        this.#hangup(callbackChannelId(callback.id, attempt, 'caller')),
        ari.destroyBridge(callbackBridgeId(callback.id, attempt)).catch(() => undefined),
      ]);
      if (!(await callbacks.unclaim(callback.id, attempt - 1))) continue;
      if (callback.claimedBy) await queue.release(callback.claimedBy, callback.callId, 0, { assign: false });
      await this.#trace(callback, [
        {
          type: 'callback-interrupted',
          detail: { callbackId: callback.id, attempt, takerId: callback.claimedBy },
        },
      ]);
      this.#deps.logger.warn({ callbackId: callback.id }, 'callback interrupted by a restart; pending again');
    }
    this.#deps.requestDispatch();
  }

  /** Ends every callback in progress here (shutdown): both legs hung up, the takers freed. */
  async stop(): Promise<void> {
    await Promise.allSettled(
      [...this.#attempts.values()].map(async (a) => {
        clearTimeout(a.guard);
        await Promise.all([this.#hangup(a.takerChannel), this.#hangup(a.callerChannel)]);
      }),
    );
  }

  async #handle(event: AriEvent, leg: NonNullable<ReturnType<typeof parseCallbackChannelId>>): Promise<void> {
    const attempt = this.#attempts.get(leg.callbackId);
    const ours = attempt !== undefined && attempt.attempt === leg.attempt;
    if (event.type === 'StasisStart') {
      if (!ours || attempt.phase === 'ended') {
        this.#deps.logger.warn({ channelId: event.channel.id }, 'hanging up an orphaned callback leg');
        await this.#hangup(event.channel.id);
        return;
      }
      if (leg.leg === 'taker' && attempt.phase === 'ringing-taker') await this.#takerAnswered(attempt);
      else if (leg.leg === 'caller' && attempt.phase === 'dialing-caller')
        await this.#callerAnswered(attempt);
      return;
    }
    if (event.type !== 'ChannelDestroyed' || !ours) return;
    if (leg.leg === 'taker') await this.#takerGone(attempt, event.cause);
    else await this.#callerGone(attempt, event.cause);
  }

  #start(callback: Callback, endpoint: string): void {
    const attempt = callback.attempts + 1;
    const state: Attempt = {
      callback,
      attempt,
      takerId: callback.claimedBy ?? '',
      takerChannel: callbackChannelId(callback.id, attempt, 'taker'),
      callerChannel: callbackChannelId(callback.id, attempt, 'caller'),
      bridgeId: callbackBridgeId(callback.id, attempt),
      phase: 'ringing-taker',
      guard: undefined,
      lifetime: new AbortController(),
    };
    this.#attempts.set(callback.id, state);
    const { settings } = this.#deps;
    this.#deps.desk?.(state.takerId, {
      type: 'offer',
      callId: callback.callId,
      detail: {
        callbackOf: callback.callId,
        callbackId: callback.id,
        attempt,
        callerNumber: callback.callerNumber,
        trunk: callback.trunk,
      },
    });
    const request: OriginateRequest = {
      endpoint,
      channelId: state.takerChannel,
      appArgs: ['callback', callback.id],
      timeoutSeconds: settings.takerRingSeconds,
      // The taker's phone shows whom they are calling back.
      callerId: callback.callerNumber,
    };
    void this.#originateLeg(state, 'ringing-taker', request, (error) => {
      this.#deps.logger.warn({ err: error, callbackId: callback.id }, 'callback: ringing the taker failed');
      // 500: the phone cannot be reached (cause 0 reads as unreachable); else our side.
      const cause = isAriError(error, 'asterisk') ? 0 : 16;
      this.#enqueue(callback.id, () =>
        state.phase === 'ringing-taker' ? this.#takerGone(state, cause) : undefined,
      );
    });
    this.#guard(state, 'ringing-taker', settings.takerRingSeconds, state.takerChannel, () =>
      this.#takerGone(state, 19),
    );
  }

  /**
   * Originates one leg of the attempt (see originateOnce: a request whose answer was lost is
   * repeated under the same channel id, never taken for a failure, so one phone rings once).
   * Asterisk's refusal goes to `refused`; with no answer for the whole ring time the phase's guard
   * ends the wait. A leg created after its attempt has ended is hung up.
   */
  async #originateLeg(
    state: Attempt,
    phase: Phase,
    request: OriginateRequest,
    refused: (error: unknown) => void,
  ): Promise<void> {
    const outcome = await originateOnce(this.#deps.ari, request, {
      clock: this.#deps.clock,
      wanted: () => state.phase === phase,
      signal: state.lifetime.signal,
      onUnanswered: (error, unanswered) => {
        if (unanswered !== 1) return;
        this.#deps.logger.warn(
          { err: error, callbackId: state.callback.id, channelId: request.channelId },
          'callback: originate unanswered; asking again',
        );
      },
    });
    if (state.phase === 'ended') {
      if (outcome.kind !== 'refused' || outcome.unanswered > 0) await this.#hangup(request.channelId);
    } else if (outcome.kind === 'refused' && state.phase === phase) refused(outcome.error);
  }

  /** Asterisk decides ring-no-answer; this only ends the wait if its verdict never arrives. */
  #guard(
    state: Attempt,
    phase: Phase,
    ringSeconds: number,
    channelId: string,
    giveUp: () => Promise<void>,
  ): void {
    clearTimeout(state.guard);
    const ms = (ringSeconds * 1000) / this.#deps.clock.rate + RING_GUARD_MS;
    state.guard = setTimeout(() => {
      if (state.phase !== phase) return;
      this.#deps.logger.warn({ callbackId: state.callback.id, phase }, 'callback: no verdict from Asterisk');
      void this.#hangup(channelId);
      // Ends the wait even when no ChannelDestroyed ever comes (or a step before dialling failed).
      this.#enqueue(state.callback.id, () => (state.phase === phase ? giveUp() : undefined));
    }, ms);
    state.guard.unref();
  }

  async #takerAnswered(state: Attempt): Promise<void> {
    const { queue, callbacks, settings } = this.#deps;
    const { callback, attempt } = state;
    state.phase = 'dialing-caller';
    this.#guard(state, 'dialing-caller', settings.callerRingSeconds, state.callerChannel, () =>
      this.#notReached(state, 'no-answer', { reason: 'no-verdict-from-asterisk' }),
    );
    await queue.connect(state.takerId, callback.callId);
    await callbacks.markDialing(callback.id, attempt);
    const dial = callback.trunk ? callerDialString(callback.callerNumber, callback.trunk) : null;
    await this.#trace(callback, [
      { type: 'callback-dialing', detail: { callbackId: callback.id, attempt, takerId: state.takerId } },
    ]);
    if (!dial) {
      await this.#notReached(state, 'invalid', { reason: 'no-dial-string' });
      return;
    }
    const request: OriginateRequest = {
      endpoint: dial,
      channelId: state.callerChannel,
      appArgs: ['callback', callback.id],
      timeoutSeconds: settings.callerRingSeconds,
      callerId: '112',
    };
    void this.#originateLeg(state, 'dialing-caller', request, (error) => {
      this.#deps.logger.warn({ err: error, callbackId: callback.id }, 'callback: dialling the caller failed');
      // 500 "Allocation failed": the trunk could not place the number at all.
      const outcome: CallbackOutcome = isAriError(error, 'asterisk') ? 'invalid' : 'error';
      const code = isAriError(error) ? error.code : 'unknown';
      this.#enqueue(callback.id, () =>
        state.phase === 'dialing-caller' ? this.#notReached(state, outcome, { error: code }) : undefined,
      );
    });
  }

  async #callerAnswered(state: Attempt): Promise<void> {
    const { ari, callbacks } = this.#deps;
    const { callback, attempt } = state;
    clearTimeout(state.guard);
    state.phase = 'connected';
    this.#deps.desk?.(state.takerId, {
      type: 'connected',
      callId: callback.callId,
      detail: { callbackId: callback.id },
    });
    await callbacks.finishAttempt(callback.id, attempt, {
      status: 'reached',
      outcome: 'reached',
      nextAttemptAt: null,
    });
    await this.#trace(callback, [
      { type: 'callback-outcome', detail: { callbackId: callback.id, outcome: 'reached', attempt } },
    ]);
    try {
      await ari.createBridge(state.bridgeId, `siaga112 callback ${callback.id}`);
      await ari.addChannels(state.bridgeId, [state.takerChannel, state.callerChannel]);
      await this.#trace(callback, [
        {
          type: 'callback-connected',
          detail: { callbackId: callback.id, attempt, bridgeId: state.bridgeId },
        },
      ]);
    } catch (error) {
      // A leg left while we bridged: its ChannelDestroyed ends the callback.
      this.#deps.logger.info({ err: error, callbackId: callback.id }, 'callback: bridging failed');
    }
  }

  async #takerGone(state: Attempt, cause: number | undefined): Promise<void> {
    const { callback, attempt, takerId } = state;
    if (state.phase === 'ringing-taker') {
      // The taker did not answer their own claim: the callback is free again, the taker out of
      // rotation as after a missed 112 offer.
      this.#finish(state);
      const reason = offerFailureFromCause(cause);
      await this.#deps.callbacks.unclaim(callback.id, attempt - 1);
      // Only while still reserved for this callback: a taker moved on meanwhile stays where they are.
      await this.#deps.queue.setTakerState(takerId, 'break', { reason, holding: callback.callId });
      await this.#trace(callback, [
        { type: 'callback-released', detail: { callbackId: callback.id, attempt, takerId, reason, cause } },
      ]);
      return;
    }
    if (state.phase === 'dialing-caller') {
      // The taker gave up while the caller's phone rang: not an attempt on the caller.
      this.#finish(state);
      await this.#hangup(state.callerChannel);
      await this.#deps.callbacks.unclaim(callback.id, attempt - 1);
      await this.#trace(callback, [
        { type: 'callback-ended', detail: { callbackId: callback.id, attempt, endedBy: 'taker', cause } },
      ]);
      await this.#releaseTaker(state, 0);
      return;
    }
    if (state.phase === 'connected') await this.#end(state, 'taker', cause);
  }

  async #callerGone(state: Attempt, cause: number | undefined): Promise<void> {
    if (state.phase === 'dialing-caller') {
      await this.#notReached(state, notReachedFromCause(cause), { cause });
    } else if (state.phase === 'connected') {
      await this.#end(state, 'caller', cause);
    }
  }

  /** The conversation is over: the other leg and the bridge go, the taker wraps up. */
  async #end(state: Attempt, endedBy: 'taker' | 'caller', cause: number | undefined): Promise<void> {
    this.#finish(state);
    const { ari } = this.#deps;
    await Promise.all([
      this.#hangup(endedBy === 'taker' ? state.callerChannel : state.takerChannel),
      ari.destroyBridge(state.bridgeId).catch(() => undefined),
    ]);
    await this.#trace(state.callback, [
      {
        type: 'callback-ended',
        detail: { callbackId: state.callback.id, attempt: state.attempt, endedBy, cause },
      },
    ]);
    await this.#releaseTaker(state, this.#deps.settings.wrapUpSeconds);
  }

  /** The caller was not reached: the outcome, then a retry on the schedule or the end of it. */
  async #notReached(
    state: Attempt,
    outcome: Exclude<CallbackOutcome, 'reached'>,
    detail: Record<string, unknown>,
  ): Promise<void> {
    this.#finish(state);
    const { callbacks, clock, settings, jobs } = this.#deps;
    const { callback, attempt } = state;
    await this.#hangup(state.callerChannel);
    await this.#hangup(state.takerChannel);
    const next = afterAttempt(attempt, outcome, settings.retryDelaysMs);
    const nextAt = next.status === 'scheduled' ? new Date(clock.now() + next.delayMs) : null;
    await callbacks.finishAttempt(callback.id, attempt, {
      status: next.status,
      outcome,
      nextAttemptAt: nextAt,
    });
    const events: TimelineEvent[] = [
      { type: 'callback-outcome', detail: { callbackId: callback.id, outcome, attempt, ...detail } },
    ];
    if (next.status === 'scheduled' && nextAt) {
      await jobs.scheduleDue({ callbackId: callback.id, attempts: attempt }, next.delayMs / clock.rate);
      events.push({
        type: 'callback-retry-scheduled',
        detail: { callbackId: callback.id, at: nextAt.toISOString(), attempt: attempt + 1 },
      });
    } else {
      events.push({
        type: `callback-${next.status}`,
        detail: { callbackId: callback.id, attempts: attempt },
      });
    }
    events.push({ type: 'callback-ended', detail: { callbackId: callback.id, attempt, endedBy: 'system' } });
    await this.#trace(callback, events);
    await this.#releaseTaker(state, 0);
  }

  #finish(state: Attempt): void {
    clearTimeout(state.guard);
    state.lifetime.abort();
    if (state.phase !== 'ended') {
      this.#deps.desk?.(state.takerId, {
        type: 'ended',
        callId: state.callback.callId,
        detail: { callbackId: state.callback.id, reached: state.phase === 'connected' },
      });
    }
    state.phase = 'ended';
    if (this.#attempts.get(state.callback.id) === state) this.#attempts.delete(state.callback.id);
  }

  async #releaseTaker(state: Attempt, wrapUpSeconds: number): Promise<void> {
    await this.#deps.queue.release(state.takerId, state.callback.callId, wrapUpSeconds * 1000, {
      assign: false,
    });
    this.#deps.requestDispatch();
  }

  #enqueue(callbackId: string, work: () => Promise<void> | undefined): void {
    const previous = this.#chains.get(callbackId) ?? Promise.resolve();
    const next = previous
      .then(work)
      .catch((error: unknown) => this.#deps.logger.error({ err: error, callbackId }, 'callback step failed'));
    this.#chains.set(callbackId, next);
  }

  /** The call's timeline gets every step; a failure to write it is logged, never fatal to the callback. */
  async #trace(
    callback: Callback,
    events: Array<{ type: string; detail: Record<string, unknown> }>,
  ): Promise<void> {
    try {
      await this.#deps.timeline.append(callback.callId, events);
    } catch (error) {
      this.#deps.logger.error(
        { err: error, callbackId: callback.id, events: events.map((e) => e.type) },
        'callback trace not written',
      );
    }
  }

  async #hangup(channelId: string): Promise<void> {
    try {
      await this.#deps.ari.hangup(channelId);
    } catch (error) {
      if (isAriError(error, 'not-found') || isAriError(error, 'not-in-stasis')) return;
      this.#deps.logger.warn({ err: error, channelId }, 'callback: hangup failed');
    }
  }
}
