/**
 * What the recording jobs do (recording-jobs.ts runs them): a segment's row follows what Asterisk
 * reported, a finished segment's file is checksummed and kept (moved to the store when there is
 * one), a file Asterisk never wrote makes the segment failed, and recordings past their retention
 * are removed, files and rows, unless their call is on legal hold.
 */
import type { CallTimeline } from '../callbacks/call-timeline.ts';
import type { Logger } from '../logger.ts';
import type { RecordingRepository, RecordingSegment } from '../records/recording-repository.ts';
import type { RecordingHealth } from './call-recorder.ts';
import type { RecordingJobHandlers, RecordingJobs } from './recording-jobs.ts';
import type { RecordingMetrics } from './recording-metrics.ts';
import { fileNameOf } from './recording-name.ts';
import type { RecordingStore } from './recording-store.ts';

export interface RecordingKeeperDeps {
  repository: RecordingRepository;
  store: RecordingStore;
  timeline: Pick<CallTimeline, 'append'>;
  metrics: RecordingMetrics;
  health: RecordingHealth;
  logger: Logger;
  /** Days a recording is kept (0: for ever). */
  retentionDays: number;
  now: () => number;
}

/** What one purge removed and what a hold kept. */
export interface PurgeReport {
  cutoff: Date | null;
  removed: Array<{ callId: string; segment: number; fileName: string | null; bytes: number | null }>;
  keptOnHold: number;
  /** Segments past retention whose file could not be deleted (kept, logged, tried again next time). */
  notRemoved: number;
}

const PURGE_BATCH = 200;
const FILE_MISSING = 'file-missing: Asterisk reported the recording finished, but no file was written';

export interface RecordingKeeper {
  /** The recording jobs' handlers. */
  readonly handlers: RecordingJobHandlers;
  /** Removes what is past its retention now (the daily job calls this). */
  purge(): Promise<PurgeReport>;
}

export function createRecordingKeeper(deps: RecordingKeeperDeps): RecordingKeeper {
  const { repository, store, metrics, health, logger } = deps;

  /** Keeps a finished segment's file; a file that is not there makes the segment failed. */
  async function keep(data: RecordingJobs['finished']): Promise<void> {
    const existing = await repository.get(data.callId, data.segment);
    if (existing?.state === 'done') {
      // A retried job: the row says where the file is; only the spool copy may be left over.
      if (existing.fileName) await store.releaseSpool(existing.fileName);
      return;
    }
    const startedAt = new Date(data.startedAt);
    const kept = await store.keep(fileNameOf(data, data.format));
    if (!kept) {
      await repository.failed({ ...data, at: new Date(data.endedAt) }, FILE_MISSING);
      metrics.failed(data.kind, 'file');
      health.failure();
      logger.warn(
        { callId: data.callId, segment: data.segment, name: data.name },
        'recording finished with no file',
      );
      await deps.timeline.append(
        data.callId,
        [
          {
            type: 'recording-failed',
            detail: {
              segment: data.segment,
              kind: data.kind,
              name: data.name,
              stage: 'file',
              failure: FILE_MISSING,
            },
          },
        ],
        data.callState,
      );
      return;
    }
    await repository.stored({ ...data, startedAt }, { ...kept, endedAt: new Date(data.endedAt) });
    await store.releaseSpool(kept.fileName);
    metrics.stored(data.kind);
    health.success();
  }

  async function purge(): Promise<PurgeReport> {
    if (deps.retentionDays <= 0) return { cutoff: null, removed: [], keptOnHold: 0, notRemoved: 0 };
    const cutoff = new Date(deps.now() - deps.retentionDays * 24 * 3600_000);
    const removed: PurgeReport['removed'] = [];
    // A file that cannot be deleted keeps its row (and stays first in line): the rest go on.
    let kept = 0;
    for (;;) {
      const batch = await repository.expired(cutoff, PURGE_BATCH, kept);
      if (batch.length === 0) break;
      for (const segment of batch) {
        try {
          removed.push(await removeSegment(segment));
        } catch (error) {
          kept += 1;
          logger.error(
            { err: error, callId: segment.callId, segment: segment.segment },
            'could not remove a recording past its retention; kept for the next purge',
          );
        }
      }
    }
    const keptOnHold = await repository.countHeld(cutoff);
    metrics.purged(removed.length);
    logger.info(
      {
        cutoff: cutoff.toISOString(),
        removed: removed.length,
        bytes: removed.reduce((sum, r) => sum + (r.bytes ?? 0), 0),
        segments: removed.map((r) => `${r.callId}/${r.segment}`),
        keptOnHold,
        notRemoved: kept,
      },
      'recordings past their retention removed',
    );
    return { cutoff, removed, keptOnHold, notRemoved: kept };
  }

  /** The file first, then the row: a file is never left without the row that names it. */
  async function removeSegment(segment: RecordingSegment): Promise<PurgeReport['removed'][number]> {
    if (segment.location && segment.fileName) {
      await store.remove(segment.location, segment.fileName);
    } else {
      // Never kept (failed, or its end never heard): whatever Asterisk left in its directory goes too.
      await store.remove('spool', fileNameOf(segment, segment.format));
    }
    await repository.remove(segment.callId, segment.segment);
    return {
      callId: segment.callId,
      segment: segment.segment,
      fileName: segment.fileName,
      bytes: segment.sizeBytes,
    };
  }

  const handlers: RecordingJobHandlers = {
    started: (data) => repository.started({ ...data, startedAt: new Date(data.startedAt) }),
    finished: keep,
    failed: (data) => repository.failed({ ...data, at: new Date(data.at) }, data.failure),
    async settle({ callId }) {
      // Segments whose end was never heard (events lost in a takeover): kept from their files now.
      for (const segment of await repository.listForCall(callId)) {
        if (segment.state !== 'recording') continue;
        await keep({
          ...segment,
          startedAt: segment.startedAt.toISOString(),
          endedAt: new Date(deps.now()).toISOString(),
          callState: 'ended',
        });
      }
    },
    async purge() {
      await purge();
    },
  };
  return { handlers, purge };
}
