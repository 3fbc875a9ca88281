import type { Logger } from '../logger.ts';
import type { DeskEvent, DeskEvents } from '../queues/desk-events.ts';
import type { CallRepository } from './call-repository.ts';

/** The screen pop shows the caller's calls of the last month, the most recent few. */
const HISTORY_MS = 30 * 24 * 3600_000;
const RECENT_CALLS = 5;

/**
 * Tells a taker's desk about their call. A screen pop (`offer`) gets what Postgres knows: the
 * caller's recent calls and, for a callback, the call being returned. It runs after the ring
 * request has gone out, never on the call's path; a failure is logged, never thrown.
 */
export function createDeskPublisher(deps: {
  desk: Pick<DeskEvents, 'publish'>;
  calls: Pick<CallRepository, 'getCall' | 'listCallerCalls'>;
  now: () => number;
  logger: Logger;
}): (takerId: string, event: Omit<DeskEvent, 'at'>) => void {
  const { desk, calls, now, logger } = deps;

  async function screenPop(event: Omit<DeskEvent, 'at'>, at: number): Promise<Record<string, unknown>> {
    let detail = event.detail;
    if (typeof detail.callbackOf === 'string') {
      const original = await calls.getCall(detail.callbackOf).catch(() => undefined);
      detail = {
        ...detail,
        originalCall: original
          ? {
              arrivedAt: original.arrivedAt.toISOString(),
              endedAt: original.endedAt?.toISOString() ?? null,
              disposition: original.disposition,
              waitMs: original.waitMs,
              screening: original.screening,
            }
          : null,
      };
    }
    if (typeof detail.callerNumber === 'string') {
      const past = await calls
        .listCallerCalls(detail.callerNumber, new Date(at - HISTORY_MS))
        .catch(() => []);
      detail = {
        ...detail,
        recentCalls: past
          .filter((call) => call.id !== event.callId)
          .slice(-RECENT_CALLS)
          .reverse()
          .map((call) => ({
            callId: call.id,
            arrivedAt: call.arrivedAt.toISOString(),
            disposition: call.disposition,
            verdict: call.verdict,
          })),
      };
    }
    return detail;
  }

  return (takerId, event) => {
    const at = now();
    void (async () => {
      const detail = event.type === 'offer' ? await screenPop(event, at) : event.detail;
      await desk.publish(takerId, { ...event, detail, at });
    })().catch((error: unknown) => logger.warn({ err: error, takerId }, 'could not tell the desk'));
  };
}
