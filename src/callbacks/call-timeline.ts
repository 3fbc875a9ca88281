import type { CallQueue } from '../queues/call-queue.ts';
import type { RecordWriter } from '../records/record-writer.ts';

/** One thing that happened to a call after it ended (its callback). */
export interface TimelineEvent {
  type: string;
  detail: Record<string, unknown>;
}

export interface CallTimeline {
  /**
   * Appends events to an ended call's `call_events`, numbered from the counter every instance
   * shares, without touching its record. Resolves once durably queued.
   */
  append(callId: string, events: readonly TimelineEvent[], state?: string): Promise<void>;
}

export function createCallTimeline(deps: {
  queue: Pick<CallQueue, 'reserveRecordSlots'>;
  writer: Pick<RecordWriter, 'append'>;
  now: () => number;
}): CallTimeline {
  return {
    async append(callId, events, state = 'ended') {
      if (events.length === 0) return;
      const at = new Date(deps.now());
      const { version, firstSeq } = await deps.queue.reserveRecordSlots(callId, events.length);
      await deps.writer.append({
        callId,
        version,
        events: events.map((event, i) => ({
          callId,
          seq: firstSeq + i,
          at,
          type: event.type,
          // The call's state when it happened (a callback's: ended; its own status is in the detail).
          state,
          detail: event.detail,
        })),
      });
    },
  };
}
