/**
 * Records every call siaga112 answers: the caller's leg from the answer, then the bridge's mix
 * once someone is bridged with the caller (Asterisk cannot record a bridged channel and will not
 * bridge a channel it records, so the leg's recording is stopped just before the bridging). Starts
 * are never awaited on the call's path; a refusal or failure leaves the call as it is and goes on
 * its timeline, into the metrics and into `/ready` (advisory). What Asterisk reports becomes
 * durable jobs (recording-jobs.ts) that keep each segment's file and row.
 */
import type { AriEvent } from '../ari/ari-models.ts';
import { type AriPort, isAriError, type RecordRequest } from '../ari/ari-port.ts';
import type { CallTimeline } from '../callbacks/call-timeline.ts';
import type { Clock } from '../clock.ts';
import type { Logger } from '../logger.ts';
import type { CallRecordingHooks, RecordedCall } from './call-recording-hooks.ts';
import type { RecordingJobQueue, RecordingJobs } from './recording-jobs.ts';
import type { RecordingFailureStage, RecordingMetrics } from './recording-metrics.ts';
import {
  parseRecordingName,
  RECORDING_FORMAT,
  type RecordingKind,
  type SegmentRef,
  segmentRef,
} from './recording-name.ts';

/**
 * Whether recording works, as this instance last saw it: degraded from a failure until a segment
 * is stored again.
 */
export class RecordingHealth {
  #seq = 0;
  #lastFailure = 0;
  #lastSuccess = 0;

  failure(): void {
    this.#lastFailure = ++this.#seq;
  }

  success(): void {
    this.#lastSuccess = ++this.#seq;
  }

  get healthy(): boolean {
    return this.#lastFailure === 0 || this.#lastSuccess > this.#lastFailure;
  }
}

export interface CallRecorderDeps {
  ari: Pick<AriPort, 'record' | 'stopRecording' | 'onEvent'>;
  jobs: Pick<RecordingJobQueue, 'add'>;
  /** Events of a call that is over (or not this instance's): appended to its timeline. */
  timeline: Pick<CallTimeline, 'append'>;
  metrics: RecordingMetrics;
  health: RecordingHealth;
  clock: Clock;
  logger: Logger;
  /** The state of a live call of this instance, if it has it (for events on its timeline). */
  stateOf?: (callId: string) => string | undefined;
  /** Bound on waiting for a stopped recording's end before bridging or destroying the bridge. */
  endWaitMs?: number;
  /** How long after a call ended its segments are settled from their files. */
  settleAfterMs?: number;
}

interface Segment {
  ref: SegmentRef;
  startedAt: number;
  /** True once Asterisk accepted the recording (201), false if it did not. */
  accepted: Promise<boolean>;
  stopped: boolean;
}

interface CallEntry {
  call: RecordedCall;
  /** Answered here: every segment this call has is in `segments`. False: adopted mid-call. */
  known: boolean;
  segments: Partial<Record<RecordingKind, Segment>>;
}

const END_WAIT_MS = 1000;
const SETTLE_AFTER_MS = 60_000;
const iso = (ms: number) => new Date(ms).toISOString();

export class CallRecorder implements CallRecordingHooks {
  readonly #deps: CallRecorderDeps;
  readonly #calls = new Map<string, CallEntry>();
  /** Who waits for a recording's end, by recording name. */
  readonly #endWaiters = new Map<string, Set<() => void>>();

  constructor(deps: CallRecorderDeps) {
    this.#deps = deps;
  }

  /** Listens to Asterisk's recording events; returns the function that stops listening. */
  start(): () => void {
    return this.#deps.ari.onEvent((event) => this.#onEvent(event));
  }

  answered(call: RecordedCall): void {
    // Calls this instance gave up to another (a lost lease) never end here: forget them now.
    for (const [callId, known] of this.#calls) if (known.call.state() === 'ended') this.#calls.delete(callId);
    const entry = this.#entry(call, true);
    this.#start(entry, 'caller', { kind: 'channel', id: call.callerChannelId });
  }

  beforeBridge(call: RecordedCall): Promise<void> {
    return this.#stop(this.#entry(call, false), 'caller');
  }

  bridged(call: RecordedCall, bridgeId: string): void {
    this.#start(this.#entry(call, false), 'bridge', { kind: 'bridge', id: bridgeId });
  }

  beforeBridgeDestroyed(call: RecordedCall): Promise<void> {
    return this.#stop(this.#entry(call, false), 'bridge');
  }

  /** A call ended here: forget it, and settle its segments once Asterisk is surely done with them. */
  callEnded(callId: string, answered: boolean): void {
    this.#calls.delete(callId);
    if (!answered) return;
    this.#enqueue('settle', { callId }, this.#deps.settleAfterMs ?? SETTLE_AFTER_MS);
  }

  #entry(call: RecordedCall, known: boolean): CallEntry {
    let entry = this.#calls.get(call.callId);
    if (!entry) {
      entry = { call, known, segments: {} };
      this.#calls.set(call.callId, entry);
    }
    return entry;
  }

  #start(entry: CallEntry, kind: RecordingKind, target: RecordRequest['target']): void {
    if (entry.segments[kind]) return;
    const { ari, metrics, clock } = this.#deps;
    const ref = segmentRef(entry.call.callId, kind);
    const startedAt = clock.now();
    const accepted = ari.record({ target, name: ref.name, format: RECORDING_FORMAT }).then(
      () => {
        metrics.started(kind);
        // Only while the call lasts: its timeline ends with `ended`.
        if (entry.call.state() !== 'ended') {
          entry.call.log('recording-started', { segment: ref.segment, kind, name: ref.name });
        }
        this.#enqueue('started', { ...ref, format: RECORDING_FORMAT, startedAt: iso(startedAt) });
        return true;
      },
      (error: unknown) => {
        this.#refused(entry, ref, startedAt, error);
        return false;
      },
    );
    entry.segments[kind] = { ref, startedAt, accepted, stopped: false };
  }

  #refused(entry: CallEntry, ref: SegmentRef, startedAt: number, error: unknown): void {
    // 404: the caller hung up (or the bridge went) in between. 409: the channel left our app, or
    // the recording exists already (another instance started it before a takeover). Nothing failed.
    if (isAriError(error) && (error.status === 404 || error.status === 409)) {
      this.#deps.logger.info(
        { err: error, callId: ref.callId, segment: ref.segment },
        'recording not started',
      );
      return;
    }
    const failure = isAriError(error) ? `${error.code}: ${error.message}` : String(error);
    this.#failure(entry.call.callId, ref, startedAt, 'start', failure);
  }

  #failure(
    callId: string,
    ref: SegmentRef,
    startedAt: number,
    stage: RecordingFailureStage,
    failure: string,
  ): void {
    const { metrics, health, clock, logger } = this.#deps;
    metrics.failed(ref.kind, stage);
    health.failure();
    logger.warn(
      { callId, segment: ref.segment, stage, failure },
      'recording failed; the call goes on without it',
    );
    const detail = { segment: ref.segment, kind: ref.kind, name: ref.name, stage, failure };
    this.#timeline(callId, 'recording-failed', detail);
    this.#enqueue('failed', {
      ...ref,
      format: RECORDING_FORMAT,
      startedAt: iso(startedAt),
      at: iso(clock.now()),
      failure,
    });
  }

  /** On the call's timeline: through its session while it lasts here, else appended to it. */
  #timeline(callId: string, type: string, detail: Record<string, unknown>): void {
    const call = this.#calls.get(callId)?.call;
    if (call && call.state() !== 'ended') {
      call.log(type, detail);
      return;
    }
    const state = this.#deps.stateOf?.(callId) ?? 'ended';
    this.#deps.timeline.append(callId, [{ type, detail }], state).catch((error: unknown) => {
      this.#deps.logger.warn({ err: error, callId }, 'could not put a recording failure on the timeline');
    });
  }

  /**
   * Stops a segment's recording and waits (bounded) for Asterisk to say it ended. A call adopted
   * from another instance may have a recording this one never started: it is stopped by name.
   */
  async #stop(entry: CallEntry, kind: RecordingKind): Promise<void> {
    const { ari, clock, logger } = this.#deps;
    let segment = entry.segments[kind];
    if (!segment) {
      if (entry.known) return;
      segment = {
        ref: segmentRef(entry.call.callId, kind),
        startedAt: clock.now(),
        accepted: Promise.resolve(true),
        stopped: false,
      };
      entry.segments[kind] = segment;
    }
    if (segment.stopped) return;
    segment.stopped = true;
    const waitMs = this.#deps.endWaitMs ?? END_WAIT_MS;
    // A start still in flight is waited for (bounded): a stop that overtook it would find nothing.
    const accepted = await Promise.race([segment.accepted, delay(waitMs).then(() => true)]);
    if (!accepted) return;
    const ended = this.#untilEnded(segment.ref.name, waitMs);
    try {
      await ari.stopRecording(segment.ref.name);
    } catch (error) {
      ended.cancel();
      if (!isAriError(error, 'not-found')) {
        logger.warn(
          { err: error, callId: entry.call.callId, segment: segment.ref.segment },
          'could not stop a recording',
        );
      }
      return;
    }
    if (!(await ended.promise)) {
      logger.warn(
        { callId: entry.call.callId, segment: segment.ref.segment, waitMs },
        'recording end not heard in time',
      );
    }
  }

  /** Resolves true when the recording's end (finished or failed) arrives, false after `ms`. */
  #untilEnded(name: string, ms: number): { promise: Promise<boolean>; cancel(): void } {
    let wake: () => void = () => {};
    let timer: NodeJS.Timeout | undefined;
    const promise = new Promise<boolean>((resolve) => {
      wake = () => {
        clearTimeout(timer);
        this.#endWaiters.get(name)?.delete(wake);
        resolve(true);
      };
      timer = setTimeout(() => {
        this.#endWaiters.get(name)?.delete(wake);
        resolve(false);
      }, ms);
      timer.unref();
      let waiters = this.#endWaiters.get(name);
      if (!waiters) {
        waiters = new Set();
        this.#endWaiters.set(name, waiters);
      }
      waiters.add(wake);
    });
    return {
      promise,
      cancel: () => {
        clearTimeout(timer);
        this.#endWaiters.get(name)?.delete(wake);
      },
    };
  }

  #onEvent(event: AriEvent): void {
    if (event.type !== 'RecordingFinished' && event.type !== 'RecordingFailed') return;
    const ref = parseRecordingName(event.recording.name);
    if (!ref) return;
    const waiters = this.#endWaiters.get(ref.name);
    this.#endWaiters.delete(ref.name);
    for (const wake of waiters ?? []) wake();
    const { clock } = this.#deps;
    const segment = this.#calls.get(ref.callId)?.segments[ref.kind];
    const startedAt = segment?.startedAt ?? clock.now();
    if (event.type === 'RecordingFailed') {
      this.#failure(ref.callId, ref, startedAt, 'recording', event.recording.cause ?? 'failed');
      return;
    }
    const call = this.#calls.get(ref.callId)?.call;
    this.#enqueue('finished', {
      ...ref,
      format: event.recording.format,
      startedAt: iso(startedAt),
      endedAt: iso(clock.now()),
      callState: call?.state() ?? this.#deps.stateOf?.(ref.callId) ?? 'ended',
    });
  }

  #enqueue<K extends Exclude<keyof RecordingJobs, 'purge'>>(
    name: K,
    data: RecordingJobs[K],
    delayMs = 0,
  ): void {
    this.#deps.jobs.add(name, data, delayMs).catch((error: unknown) => {
      this.#deps.logger.error({ err: error, job: name }, 'could not queue recording work');
    });
  }
}

const delay = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms).unref();
  });
