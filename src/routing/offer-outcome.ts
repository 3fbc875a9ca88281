/**
 * Why a ringing phone did not answer, from the Q.850 cause Asterisk gives when the originated
 * leg is destroyed. A taker who let it ring out or declined it goes on break `missed` (a
 * supervisor is told); a phone that cannot be reached at all is taken out of rotation.
 */
export type OfferFailure = 'missed' | 'unreachable';

/** Causes that mean the phone rang (or was there to ring) and the person did not take the call. */
const MISSED_CAUSES = new Set([
  16, // normal clearing: the leg ended before anyone answered (declined on some phones)
  17, // user busy
  19, // no answer (ring timeout)
  21, // call rejected
]);

export function offerFailureFromCause(cause: number | undefined): OfferFailure {
  return cause !== undefined && MISSED_CAUSES.has(cause) ? 'missed' : 'unreachable';
}
