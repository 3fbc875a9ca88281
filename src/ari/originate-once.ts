import type { Clock } from '../clock.ts';
import { type AriPort, isAriError, type OriginateRequest } from './ari-port.ts';

/** Between two requests for the same channel: a connection refused at once must not spin. */
const REPEAT_PAUSE_MS = 250;

/**
 * How asking Asterisk for one channel ended. `unanswered` counts the requests that got no answer
 * (each may have reached Asterisk).
 */
export type OriginateOutcome =
  /** The channel exists: created now (200), or by an earlier request of ours (409 to a repeat). */
  | { kind: 'created'; unanswered: number }
  /**
   * Asterisk refused the request: it created nothing. After unanswered requests this does not
   * prove no channel exists (Asterisk checks an endpoint before it checks the id): hang it up.
   */
  | { kind: 'refused'; error: unknown; unanswered: number }
  /**
   * No definitive answer before the ring time was spent or the leg stopped being wanted: the
   * channel may exist, and ring. Hang it up.
   */
  | { kind: 'unanswered'; error: unknown; unanswered: number };

export interface OriginateOnceOptions {
  /** Call time: the ring time left for a repeat is counted on it. */
  clock: Clock;
  /** False once the leg was settled otherwise (its events, a guard, the call's end): stop asking. */
  wanted: () => boolean;
  /** Ends the asking at once (the call is over). */
  signal: AbortSignal;
  /** Told of each request that went unanswered (the count so far). */
  onUnanswered?: (error: unknown, unanswered: number) => void;
}

/**
 * Originates `request.channelId` so that it rings one phone once, even when Asterisk's answer is
 * lost. A request that timed out or lost its connection may have reached Asterisk and be ringing
 * the phone: that is not a failure. The same request goes again under the same channel id, which
 * Asterisk never creates twice (409 "Channel with given unique ID already exists"), until an
 * answer is definitive, the leg is no longer wanted or the ring time is spent. A repeat rings
 * only for the ring time left, so a phone rings no longer than asked whichever request created
 * its channel.
 */
export async function originateOnce(
  ari: AriPort,
  request: OriginateRequest,
  options: OriginateOnceOptions,
): Promise<OriginateOutcome> {
  const { clock, wanted, signal } = options;
  const startedAt = clock.now();
  let unanswered = 0;
  let timeoutSeconds = request.timeoutSeconds;
  for (;;) {
    try {
      await ari.originate({ ...request, timeoutSeconds });
      return { kind: 'created', unanswered };
    } catch (error) {
      // To a repeat, 409 means our earlier request created the channel. To a first request it is
      // a channel of someone else's under our id: a refusal, never taken for our phone ringing.
      if (isAriError(error, 'exists') && unanswered > 0) return { kind: 'created', unanswered };
      // A request never sent (no connection) tells nothing about one sent before it.
      const unknown = isAriError(error, 'no-reply') || (unanswered > 0 && isAriError(error, 'unavailable'));
      if (!unknown) return { kind: 'refused', error, unanswered };
      unanswered += 1;
      options.onUnanswered?.(error, unanswered);
      await pause(REPEAT_PAUSE_MS, signal);
      if (request.timeoutSeconds > 0) {
        timeoutSeconds = Math.floor(request.timeoutSeconds - (clock.now() - startedAt) / 1000);
      }
      const spent = request.timeoutSeconds > 0 && timeoutSeconds < 1;
      if (signal.aborted || !wanted() || spent) return { kind: 'unanswered', error, unanswered };
    }
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    timer.unref();
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
