import type { Clock } from '../clock.ts';
import type { Logger } from '../logger.ts';
import type { CallRepository } from './call-repository.ts';

/** How often (real time, at most) answered calls are checked for a verdict past their wrap-up. */
const SWEEP_MS = 1000;

/**
 * A verdict is due before the taker's wrap-up ends. Calls still without one then are filed as
 * `unknown` with `verdict_auto` set, so reports can tell a skipped verdict from a given one; a
 * verdict given later still replaces it. Every instance sweeps (the update is idempotent), so the
 * deadline holds whichever instance is alive. No wrap-up (0 s): nothing is due, nothing is filled.
 */
export function startVerdictDeadline(options: {
  calls: Pick<CallRepository, 'fillMissingVerdicts'>;
  wrapUpSeconds: number;
  clock: Clock;
  logger: Logger;
  /** Told of the calls just filed (their timelines get an event). */
  filed?: (callIds: string[]) => void;
  /** Sweeps start once the schema is current. */
  schemaReady?: Promise<void>;
}): { stop(): void } {
  const { calls, wrapUpSeconds, clock, logger } = options;
  if (wrapUpSeconds <= 0) return { stop: () => {} };
  let running = false;
  let ready = false;
  void (options.schemaReady ?? Promise.resolve()).then(() => {
    ready = true;
  });
  const timer = setInterval(
    () => {
      if (running || !ready) return;
      running = true;
      const now = clock.now();
      calls
        .fillMissingVerdicts(new Date(now - wrapUpSeconds * 1000), new Date(now))
        .then((callIds) => {
          if (callIds.length === 0) return;
          logger.info({ filed: callIds.length }, 'wrap-up ended without a verdict: filed as unknown');
          options.filed?.(callIds);
        })
        .catch((error: unknown) => logger.warn({ err: error }, 'could not file missing verdicts'))
        .finally(() => {
          running = false;
        });
    },
    Math.max(50, SWEEP_MS / clock.rate),
  );
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
