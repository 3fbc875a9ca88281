import { Counter, type Registry } from 'prom-client';
import type { RecordingKind } from './recording-name.ts';

/** Where a recording failed: Asterisk refused to start it, failed it while recording, or left no usable file. */
export type RecordingFailureStage = 'start' | 'recording' | 'file';

/** Recording's counters, on the instance's registry (`/metrics`). */
export interface RecordingMetrics {
  started(kind: RecordingKind): void;
  failed(kind: RecordingKind, stage: RecordingFailureStage): void;
  stored(kind: RecordingKind): void;
  purged(segments: number): void;
}

const KINDS: readonly RecordingKind[] = ['caller', 'bridge'];
const STAGES: readonly RecordingFailureStage[] = ['start', 'recording', 'file'];

export function createRecordingMetrics(registry: Registry): RecordingMetrics {
  const registers = [registry];
  const started = new Counter({
    name: 'siaga112_recordings_started_total',
    help: 'Recording segments Asterisk accepted (caller: the leg from answer; bridge: the mix), this process.',
    labelNames: ['kind'] as const,
    registers,
  });
  const failed = new Counter({
    name: 'siaga112_recording_failures_total',
    help: 'Recording segments lost: refused at start, failed while recording, or no usable file (the call went on).',
    labelNames: ['kind', 'stage'] as const,
    registers,
  });
  const stored = new Counter({
    name: 'siaga112_recordings_stored_total',
    help: 'Recording segments whose file was checksummed and kept (and moved, with RECORDINGS_STORE_DIR).',
    labelNames: ['kind'] as const,
    registers,
  });
  const purged = new Counter({
    name: 'siaga112_recordings_purged_total',
    help: 'Recording segments removed past RECORDING_RETENTION_DAYS (files and rows).',
    registers,
  });
  for (const kind of KINDS) {
    started.inc({ kind }, 0);
    stored.inc({ kind }, 0);
    for (const stage of STAGES) failed.inc({ kind, stage }, 0);
  }
  return {
    started: (kind) => started.inc({ kind }),
    failed: (kind, stage) => failed.inc({ kind, stage }),
    stored: (kind) => stored.inc({ kind }),
    purged: (segments) => purged.inc(segments),
  };
}
