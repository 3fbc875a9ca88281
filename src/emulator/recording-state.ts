/**
 * Live recordings of the emulated Asterisk, kept beside its core, and how they end. Asterisk
 * (res_stasis_recording.c) runs a recording as a command on the recorded channel (for a bridge: on
 * a `Recorder` channel it puts in the bridge) and finishes it when the command returns: stopped,
 * cancelled, the channel hung up, the bridge dissolved, or the maximum duration reached. Then it
 * publishes RecordingFinished (state `done`) and the file is a stored recording.
 */
import { existsSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BridgeRecord, ChannelRecord, EmulatorCore } from './emulator-core.ts';

/** `LiveRecording.state` (recording_to_json). */
export type LiveRecordingState = 'queued' | 'recording' | 'paused' | 'done' | 'failed' | 'canceled';

/**
 * What a test can make Asterisk do wrong when asked to record:
 * - `no-directory`: the recording directory is missing or not Asterisk's to write; the errno it
 *   meets is none it names, so `POST .../record` answers 500 `Internal Server Error`.
 * - `unknown-format`: format_wav is not loaded: 422 `specified format is unknown on this system`.
 * - `unwritable`: the file cannot be opened for writing once the recording runs (disk full):
 *   201 and RecordingStarted, then at once RecordingFinished with no duration, and no file.
 *   `ast_play_and_record_full` only logs its failure to open the stream, and `record_file`
 *   ignores its result, so Asterisk reports a finished recording.
 */
export type RecordingFault = 'no-directory' | 'unknown-format' | 'unwritable';

export interface LiveRecordingRecord {
  name: string;
  format: string;
  target: { kind: 'channel'; channelId: string } | { kind: 'bridge'; bridgeId: string };
  state: LiveRecordingState;
  /** performance.now() when the recording began (state `recording`). */
  startedAt: number;
  /** Milliseconds spent paused so far, and since when it is paused now. */
  pausedMs: number;
  pausedAt: number | undefined;
  muted: boolean;
  /** Whether talking/silence durations are reported (maxSilenceSeconds > 0). */
  measuresSilence: boolean;
  /** False under the `unwritable` fault: nothing reaches the disk. */
  writable: boolean;
  /** `ifExists=append` onto a file that was there: its audio comes first. */
  appendTo: Buffer | undefined;
  /** Audio seconds once finished (`duration`); undefined while live or when nothing was written. */
  durationSeconds: number | undefined;
}

export class RecordingRegistry {
  /** Asterisk's `astspooldir/recording`: stored recordings are the files under it. */
  readonly dir: string;
  readonly #ownsDir: boolean;
  fault: RecordingFault | null = null;
  readonly live = new Map<string, LiveRecordingRecord>();

  constructor(dir: string | undefined) {
    this.#ownsDir = dir === undefined;
    this.dir = dir ?? mkdtempSync(join(tmpdir(), 'siaga112-recordings-'));
  }

  /** The file of recording `name` in `format` (names may hold `/`: subdirectories). */
  file(name: string, format: string): string {
    return join(this.dir, `${name}.${format}`);
  }

  /** Removes the directory if the emulator made it. */
  dispose(): void {
    if (this.#ownsDir) rmSync(this.dir, { recursive: true, force: true });
  }
}

const registries = new WeakMap<EmulatorCore, RecordingRegistry>();

/** The recordings of `core`; a core nobody configured records into a temporary directory. */
export function recordingsOf(core: EmulatorCore): RecordingRegistry {
  let registry = registries.get(core);
  if (!registry) {
    registry = new RecordingRegistry(undefined);
    registries.set(core, registry);
  }
  return registry;
}

export function attachRecordings(core: EmulatorCore, dir: string | undefined): RecordingRegistry {
  const registry = new RecordingRegistry(dir);
  registries.set(core, registry);
  return registry;
}

export const timerOwner = (recording: LiveRecordingRecord): string => `recording:${recording.name}`;

export function targetUri(recording: LiveRecordingRecord): string {
  return recording.target.kind === 'channel'
    ? `channel:${recording.target.channelId}`
    : `bridge:${recording.target.bridgeId}`;
}

/** `stasis_app_recording_to_json` (+ `cause` as recording_publish adds it). */
export function liveRecordingJson(recording: LiveRecordingRecord, cause?: string): Record<string, unknown> {
  const duration = recording.durationSeconds;
  return {
    name: recording.name,
    format: recording.format,
    state: recording.state,
    target_uri: targetUri(recording),
    ...(duration !== undefined ? { duration } : {}),
    ...(duration !== undefined && recording.measuresSilence
      ? { talking_duration: duration, silence_duration: 0 }
      : {}),
    ...(cause ? { cause } : {}),
  };
}

/** Who hears about a recording: the channel's topic, or the bridge's (the Recorder's is forwarded). */
function audience(core: EmulatorCore, recording: LiveRecordingRecord): (string | undefined)[] {
  if (recording.target.kind === 'bridge')
    return [...(core.bridges.get(recording.target.bridgeId)?.apps ?? [])];
  const channel = core.channels.get(recording.target.channelId);
  return channel ? core.channelAudience(channel) : [];
}

export function emitRecording(
  core: EmulatorCore,
  recording: LiveRecordingRecord,
  type: 'RecordingStarted' | 'RecordingFinished' | 'RecordingFailed',
  cause?: string,
): void {
  core.emitEvent(audience(core, recording), { type, recording: liveRecordingJson(recording, cause) });
}

/** Milliseconds of the emulated world recorded so far (pauses left out). */
export function recordedMs(core: EmulatorCore, recording: LiveRecordingRecord): number {
  const now = performance.now();
  const paused = recording.pausedMs + (recording.pausedAt === undefined ? 0 : now - recording.pausedAt);
  return Math.max(0, (now - recording.startedAt - paused) * core.timeScale);
}

/** The emulator writes at most this much audio per recording (the duration it reports is the real one). */
const MAX_AUDIO_SECONDS = 60;
const SAMPLE_RATE = 8000;

/** A WAVE header for 8 kHz mono 16-bit PCM (what format_wav writes) before `dataBytes` of audio. */
export function wavHeader(dataBytes: number): Buffer {
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(36 + dataBytes, 4);
  header.write('WAVE', 8, 'ascii');
  header.write('fmt ', 12, 'ascii');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(SAMPLE_RATE, 24);
  header.writeUInt32LE(SAMPLE_RATE * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(dataBytes, 40);
  return header;
}

/**
 * Audio standing in for what was said: a quiet tone (a channel's leg lower than a bridge's mix),
 * silence while muted. Never constant across recordings of different lengths.
 */
function audio(recording: LiveRecordingRecord, seconds: number): Buffer {
  const samples = Math.floor(Math.min(seconds, MAX_AUDIO_SECONDS) * SAMPLE_RATE);
  const data = Buffer.alloc(samples * 2);
  const hz = recording.target.kind === 'channel' ? 330 : 440;
  if (recording.muted) return data;
  for (let i = 0; i < samples; i++) {
    data.writeInt16LE(Math.round(1200 * Math.sin((2 * Math.PI * hz * i) / SAMPLE_RATE)), i * 2);
  }
  return data;
}

/** Writes the file as format_wav leaves it at close (or only its header while recording). */
export function writeRecordingFile(
  registry: RecordingRegistry,
  recording: LiveRecordingRecord,
  seconds: number | undefined,
): void {
  if (!recording.writable) return;
  const file = registry.file(recording.name, recording.format);
  const before = recording.appendTo ? recording.appendTo.subarray(44) : Buffer.alloc(0);
  const data = Buffer.concat([before, seconds === undefined ? Buffer.alloc(0) : audio(recording, seconds)]);
  writeFileSync(file, Buffer.concat([wavHeader(data.length), data]));
}

/**
 * The recording's command returns: its file is closed (deleted when it was cancelled), its add
 * rule lifted, RecordingFinished published with state `done` (record_file sets COMPLETE whatever
 * ended it), and it leaves the live recordings.
 */
export function finishRecording(core: EmulatorCore, recording: LiveRecordingRecord): void {
  const registry = recordingsOf(core);
  if (registry.live.get(recording.name) !== recording) return;
  core.timers.clearOwner(timerOwner(recording));
  const cancelled = recording.state === 'canceled';
  if (recording.writable) {
    const seconds = recordedMs(core, recording) / 1000;
    if (cancelled) removeFile(registry.file(recording.name, recording.format));
    else writeRecordingFile(registry, recording, seconds);
    // The duration is what was recorded, not what the emulator wrote down.
    recording.durationSeconds = Math.floor(seconds);
  }
  recording.state = 'done';
  recording.pausedAt = undefined;
  emitRecording(core, recording, 'RecordingFinished');
  registry.live.delete(recording.name);
}

/** `record_file` refused to run (the channel was bridged meanwhile): RecordingFailed with the cause. */
export function failRecording(core: EmulatorCore, recording: LiveRecordingRecord, cause: string): void {
  const registry = recordingsOf(core);
  if (registry.live.get(recording.name) !== recording) return;
  core.timers.clearOwner(timerOwner(recording));
  recording.state = 'failed';
  emitRecording(core, recording, 'RecordingFailed', cause);
  registry.live.delete(recording.name);
}

function removeFile(file: string): void {
  if (existsSync(file)) unlinkSync(file);
}

/** The channel's own recording, if one is live (Asterisk's add rule: it cannot join a bridge). */
export function channelRecording(
  core: EmulatorCore,
  channel: ChannelRecord,
): LiveRecordingRecord | undefined {
  for (const recording of recordingsOf(core).live.values()) {
    if (recording.target.kind === 'channel' && recording.target.channelId === channel.id) return recording;
  }
  return undefined;
}

/** The channel hung up: its recording's command returns (the audio up to now is kept). */
export function endChannelRecordings(core: EmulatorCore, channel: ChannelRecord): void {
  const recording = channelRecording(core, channel);
  if (recording) finishRecording(core, recording);
}

/** The bridge dissolves: its Recorder channels are kicked out and their recordings end. */
export function endBridgeRecordings(core: EmulatorCore, bridge: BridgeRecord): void {
  for (const recording of [...recordingsOf(core).live.values()]) {
    if (recording.target.kind === 'bridge' && recording.target.bridgeId === bridge.id) {
      finishRecording(core, recording);
    }
  }
}

/** Asterisk stops dead: recordings vanish with no event; their files stay as far as they got. */
export function vanishRecordings(core: EmulatorCore): void {
  const registry = recordingsOf(core);
  for (const recording of registry.live.values()) core.timers.clearOwner(timerOwner(recording));
  registry.live.clear();
}

/** A name Asterisk's `ast_safe_mkdir` would refuse: one that climbs out of the recording directory. */
export function escapesDirectory(name: string): boolean {
  return name.split('/').some((part) => part === '..') || name.startsWith('/');
}
