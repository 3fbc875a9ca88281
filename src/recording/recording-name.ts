/**
 * A call's recording is one logical item made of segments, each an Asterisk recording of its own:
 * the caller's leg from the answer (Asterisk cannot record a bridged channel, and will not bridge
 * a channel it records), then the bridge's mix once someone is bridged with the caller. The name
 * of each says whose and which it is, so any instance can place an event or a file (pure).
 */

export type RecordingKind = 'caller' | 'bridge';

/** Segment numbers, in the order a call goes through them. */
export const SEGMENT_OF: Readonly<Record<RecordingKind, number>> = { caller: 1, bridge: 2 };

/** The format Asterisk writes every segment in (format_wav: 8 kHz mono 16-bit PCM). */
export const RECORDING_FORMAT = 'wav';

export interface SegmentRef {
  callId: string;
  segment: number;
  kind: RecordingKind;
  /** Asterisk's recording name: the file is `<name>.<format>` in its recording directory. */
  name: string;
}

const NAME =
  /^siaga112-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})-(\d+)-(caller|bridge)$/;

export function segmentRef(callId: string, kind: RecordingKind): SegmentRef {
  const segment = SEGMENT_OF[kind];
  return { callId, segment, kind, name: `siaga112-${callId}-${segment}-${kind}` };
}

/** The segment a recording name stands for; null for a recording that is not siaga112's. */
export function parseRecordingName(name: string): SegmentRef | null {
  const match = NAME.exec(name);
  if (!match) return null;
  const kind = match[3] as RecordingKind;
  const segment = Number(match[2]);
  if (SEGMENT_OF[kind] !== segment) return null;
  return { callId: match[1] as string, segment, kind, name };
}

/** The file a segment's recording is written to. */
export const fileNameOf = (ref: Pick<SegmentRef, 'name'>, format = RECORDING_FORMAT): string =>
  `${ref.name}.${format}`;
