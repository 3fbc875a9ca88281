/**
 * Call recording put together: the recorder the call sessions tell (and which hears Asterisk's
 * recording events), the jobs that keep files and rows, the daily retention purge, and what the
 * API needs. The composition root only wires this in.
 */
import type { ConnectionOptions } from 'bullmq';
import type { Kysely } from 'kysely';
import type { Registry } from 'prom-client';
import type { RecordingRoutesDeps } from '../api/routes/recording-routes.ts';
import type { AriPort } from '../ari/ari-port.ts';
import type { CallTimeline } from '../callbacks/call-timeline.ts';
import type { Clock } from '../clock.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { CallRecord } from '../records/call-record.ts';
import type { Database } from '../records/database.ts';
import { createRecordingRepository } from '../records/recording-repository.ts';
import { CallRecorder, RecordingHealth } from './call-recorder.ts';
import type { CallRecordingHooks } from './call-recording-hooks.ts';
import { PURGE_EVERY_MS, startRecordingJobs } from './recording-jobs.ts';
import { createRecordingKeeper, type PurgeReport } from './recording-keeper.ts';
import { createRecordingMetrics } from './recording-metrics.ts';
import { LocalRecordingStore, type RecordingStore } from './recording-store.ts';

export interface RecordingServiceDeps {
  config: Config['recordings'];
  /** Redis key prefix (BullMQ's keys live under it). */
  prefix: string;
  db: Kysely<Database>;
  connection: ConnectionOptions;
  ari: AriPort;
  timeline: CallTimeline;
  /** This instance's metrics registry. */
  registry: Registry;
  /** The audit log (the API-key repository's). */
  audit: RecordingRoutesDeps['audit'];
  /** The state of a live call of this instance, if it has it. */
  stateOf?: (callId: string) => string | undefined;
  clock: Clock;
  logger: Logger;
  /** Where files live; default: this host's RECORDINGS_DIR and RECORDINGS_STORE_DIR. */
  store?: RecordingStore;
  /** How long after a call ended its unheard segments are settled (default 60 s). */
  settleAfterMs?: number;
}

export interface RecordingService {
  /** For the call sessions; undefined when calls are not recorded (RECORD_CALLS=false). */
  readonly hooks: CallRecordingHooks | undefined;
  readonly routes: RecordingRoutesDeps;
  /** `/ready`'s advisory check: false from a failed recording until one is stored again. */
  healthy(): boolean;
  /** The call center's `onCallEnded`. */
  callEnded(record: Readonly<CallRecord>): void;
  /** Removes recordings past their retention now, as the daily job does. */
  purge(): Promise<PurgeReport>;
  close(): Promise<void>;
}

export function startRecordingService(deps: RecordingServiceDeps): RecordingService {
  const { config, logger, clock } = deps;
  const repository = createRecordingRepository(deps.db);
  const store = deps.store ?? new LocalRecordingStore({ spoolDir: config.dir, storeDir: config.storeDir });
  const metrics = createRecordingMetrics(deps.registry);
  const health = new RecordingHealth();
  const keeper = createRecordingKeeper({
    repository,
    store,
    timeline: deps.timeline,
    metrics,
    health,
    logger,
    retentionDays: config.retentionDays,
    now: clock.now,
  });
  const jobs = startRecordingJobs({
    connection: deps.connection,
    prefix: deps.prefix,
    handlers: keeper.handlers,
    logger,
  });
  jobs
    .schedulePurge(config.retentionDays > 0 ? PURGE_EVERY_MS : null)
    .catch((error: unknown) => logger.error({ err: error }, 'could not schedule the recording retention'));
  const recorder = config.enabled
    ? new CallRecorder({
        ari: deps.ari,
        jobs,
        timeline: deps.timeline,
        metrics,
        health,
        clock,
        logger,
        ...(deps.stateOf ? { stateOf: deps.stateOf } : {}),
        ...(deps.settleAfterMs === undefined ? {} : { settleAfterMs: deps.settleAfterMs }),
      })
    : undefined;
  const stopListening = recorder?.start() ?? (() => {});

  return {
    hooks: recorder,
    routes: {
      async listForCall(callId) {
        if (!(await repository.callExists(callId))) return undefined;
        const [segments, hold] = await Promise.all([
          repository.listForCall(callId),
          repository.getHold(callId),
        ]);
        return { segments, hold };
      },
      getSegment: (callId, segment) => repository.get(callId, segment),
      fileSize: async (segment) =>
        segment.location && segment.fileName ? store.size(segment.location, segment.fileName) : null,
      checksum: async (segment) =>
        segment.location && segment.fileName ? store.checksum(segment.location, segment.fileName) : null,
      read: (segment, range) => {
        if (!segment.location || !segment.fileName) throw new Error(`segment ${segment.segment} has no file`);
        return store.read(segment.location, segment.fileName, range);
      },
      async setHold(callId, hold, reason, by) {
        if (hold) return repository.hold(callId, reason, by, new Date(clock.now()));
        if (!(await repository.callExists(callId))) return undefined;
        await repository.release(callId);
        return null;
      },
      recordedPrankCalls: (number) => repository.recordedPrankCalls(number),
      audit: deps.audit,
    },
    healthy: () => health.healthy,
    callEnded(record) {
      recorder?.callEnded(record.id, record.answeredAt !== null);
    },
    purge: () => keeper.purge(),
    async close() {
      stopListening();
      await jobs.close();
    },
  };
}
