/**
 * The callback feature put together: ended calls owed a callback become callback jobs, the
 * jobs' worker, the dialer (a channel handler of the call center) and what the API needs. The
 * composition root only wires this in.
 */
import { randomUUID } from 'node:crypto';
import type { ConnectionOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import type { CallbackRoutesDeps } from '../api/routes/callback-routes.ts';
import type { AriPort } from '../ari/ari-port.ts';
import type { Clock } from '../clock.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { CallQueue } from '../queues/call-queue.ts';
import type { CallRecord } from '../records/call-record.ts';
import { createCallbackRepository } from '../records/callback-repository.ts';
import type { Database } from '../records/database.ts';
import type { CallTimeline } from './call-timeline.ts';
import { CallbackDialer, type CallbackDialerDeps } from './callback-dialer.ts';
import { startCallbackJobs } from './callback-jobs.ts';
import { callbackDue } from './callback-policy.ts';

export interface CallbackServiceDeps {
  config: Config;
  db: Kysely<Database>;
  redis: Redis;
  connection: ConnectionOptions;
  ari: AriPort;
  queue: CallQueue;
  /** Where the callback's steps go: events on the original call's timeline. */
  timeline: CallTimeline;
  /** A blocklisted number is not called back. */
  isBlocked(number: string): Promise<boolean>;
  findTaker(takerId: string): Promise<{ id: string; endpoint: string } | undefined>;
  requestDispatch(): void;
  /** Resolves once the database schema is current (recovery reads the callbacks table). */
  schemaReady?: Promise<void>;
  /** Where the dialer tells a taker's desk about a callback. */
  desk?: CallbackDialerDeps['desk'];
  clock: Clock;
  logger: Logger;
}

export interface CallbackService {
  readonly dialer: CallbackDialer;
  readonly routes: CallbackRoutesDeps;
  /** The call center's `onCallEnded`: a call owed a callback becomes one (durably, via BullMQ). */
  callEnded(record: Readonly<CallRecord>): void;
  start(): Promise<void>;
  close(): Promise<void>;
}

export function startCallbackService(deps: CallbackServiceDeps): CallbackService {
  const { config, logger, clock } = deps;
  const repository = createCallbackRepository(deps.db);
  const { timeline } = deps;
  const jobs = startCallbackJobs({
    connection: deps.connection,
    prefix: config.redis.keyPrefix,
    logger,
    handlers: {
      // Retried until the call's row is in Postgres (the callback references it).
      async create({ callId, callerNumber, trunk }) {
        const callbackId = randomUUID();
        if (!(await repository.create({ id: callbackId, callId, callerNumber, trunk }))) return;
        await timeline.append(callId, [{ type: 'callback-created', detail: { callbackId, trunk } }]);
      },
      async due({ callbackId, attempts }) {
        const callback = await repository.get(callbackId);
        if (!callback || !(await repository.makeDue(callbackId, attempts))) return;
        await timeline.append(callback.callId, [
          { type: 'callback-pending', detail: { callbackId, attempt: attempts + 1 } },
        ]);
      },
    },
  });
  let offConnection: () => void = () => {};
  // A claim made on an instance without the ARI events is dialled by the one that has them.
  const claimChannel = `${config.redis.keyPrefix}:callback-claims`;
  const subscriber = deps.redis.duplicate();
  subscriber.on('message', (_channel, callbackId: string) => {
    dialer.startClaimed(callbackId).catch((error: unknown) => {
      logger.error({ err: error, callbackId }, 'could not dial a claimed callback');
    });
  });
  const dialer = new CallbackDialer({
    ari: deps.ari,
    queue: deps.queue,
    callbacks: repository,
    timeline,
    jobs,
    findTaker: deps.findTaker,
    settings: {
      takerRingSeconds: config.calls.ringTimeoutSeconds,
      callerRingSeconds: config.callbacks.ringSeconds,
      retryDelaysMs: config.callbacks.retryDelaysMs,
      wrapUpSeconds: config.calls.wrapUpSeconds,
    },
    clock,
    logger,
    requestDispatch: deps.requestDispatch,
    ...(deps.desk ? { desk: deps.desk } : {}),
    announceClaim: (callbackId) => {
      deps.redis.publish(claimChannel, callbackId).catch((error: unknown) => {
        logger.error({ err: error, callbackId }, 'could not announce a claimed callback');
      });
    },
  });
  return {
    dialer,
    routes: {
      list: (statuses, limit) => repository.list(statuses, limit),
      claim: (callbackId, takerId) => dialer.claim(callbackId, takerId),
    },
    callEnded(record) {
      if (!callbackDue(record) || record.callerNumber === null) return;
      const { id: callId, callerNumber, trunk } = record;
      void (async () => {
        if (await deps.isBlocked(callerNumber).catch(() => false)) return;
        await jobs.create({ callId, callerNumber, trunk });
      })().catch((error: unknown) => logger.error({ err: error, callId }, 'could not queue a callback'));
    },
    async start() {
      // Whenever this instance (re)gains the ARI events, callbacks orphaned by a gone dialer resume.
      offConnection = deps.ari.onConnectionChange((state) => {
        if (state !== 'connected') return;
        // The callbacks table exists only once the service has migrated the database.
        void (deps.schemaReady ?? Promise.resolve())
          .then(() => dialer.recover())
          .catch((error: unknown) => logger.error({ err: error }, 'callback recovery failed'));
      });
      await subscriber
        .subscribe(claimChannel)
        .catch((error: unknown) => logger.warn({ err: error }, 'callback claim announcements unavailable'));
    },
    async close() {
      offConnection();
      subscriber.disconnect();
      await dialer.stop();
      await jobs.close();
    },
  };
}
