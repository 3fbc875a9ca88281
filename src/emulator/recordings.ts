/**
 * Recording as Asterisk 22 does it over ARI: `POST /channels/{id}/record` and
 * `POST /bridges/{id}/record` (resource_channels.c, resource_bridges.c, res_stasis_recording.c),
 * the live recordings (`/recordings/live/...`) and the stored ones, which are the files under the
 * recording directory (`/recordings/stored/...`). The checks and their order, the error answers
 * and the events are those of Asterisk's sources; the audio is a tone standing in for speech,
 * written as 8 kHz mono 16-bit WAVE, so a client exercises the whole path to the file.
 */
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  unlinkSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { answerChannel } from './channel-lifecycle.ts';
import type { EmulatorCore } from './emulator-core.ts';
import {
  emitRecording,
  escapesDirectory,
  failRecording,
  finishRecording,
  type LiveRecordingRecord,
  liveRecordingJson,
  recordedMs,
  recordingsOf,
  timerOwner,
  writeRecordingFile,
} from './recording-state.ts';
import {
  errorResult,
  type HandlerResult,
  type OperationHandler,
  type RequestContext,
} from './spec-router.ts';

/** File formats this Asterisk can write (format_wav is the one siaga112 needs and installs). */
const FILE_FORMATS = new Set(['wav']);
/** Media formats a Recorder channel may use (`recorder_format`, `ast_format_cache_get`). */
const MEDIA_FORMATS = new Set(['slin', 'slin16', 'ulaw', 'alaw', 'gsm', 'g722', 'opus']);
const IF_EXISTS = new Set(['fail', 'overwrite', 'append']);
const TERMINATE_ON = new Set(['none', 'any', '*', '#']);

const recordingNotFound = errorResult(404, 'Recording not found');

interface RecordOptions {
  name: string | undefined;
  format: string | undefined;
  maxDurationSeconds: number;
  maxSilenceSeconds: number;
  ifExists: string;
  terminateOn: string;
}

function readOptions(ctx: RequestContext): RecordOptions {
  return {
    name: ctx.string('name'),
    format: ctx.string('format'),
    maxDurationSeconds: ctx.int('maxDurationSeconds') ?? 0,
    maxSilenceSeconds: ctx.int('maxSilenceSeconds') ?? 0,
    ifExists: ctx.string('ifExists') ?? 'fail',
    terminateOn: ctx.string('terminateOn') ?? 'none',
  };
}

/** `terminateOn` and `ifExists` as the resources parse them (an empty value is the default). */
function optionError(options: RecordOptions): HandlerResult | undefined {
  if (options.terminateOn !== '' && !TERMINATE_ON.has(options.terminateOn.toLowerCase())) {
    return errorResult(400, 'terminateOn invalid');
  }
  if (options.ifExists !== '' && !IF_EXISTS.has(options.ifExists.toLowerCase())) {
    return errorResult(400, 'ifExists invalid');
  }
  return undefined;
}

/** `stasis_app_control_record`: the errno cases and the ARI answer each gets. */
function startRecording(
  core: EmulatorCore,
  options: RecordOptions,
  target: LiveRecordingRecord['target'],
): LiveRecordingRecord | HandlerResult {
  const registry = recordingsOf(core);
  const { name, format } = options;
  if (!name || !format || options.maxDurationSeconds < 0 || options.maxSilenceSeconds < 0) {
    return errorResult(500, 'Error parsing request');
  }
  if (escapesDirectory(name)) return errorResult(400, 'Recording name invalid');
  if (registry.fault === 'no-directory') return errorResult(500, 'Internal Server Error');
  const file = registry.file(name, format);
  const ifExists = options.ifExists.toLowerCase() || 'fail';
  const exists = `Recording '${name}' already exists and can not be overwritten`;
  if (ifExists === 'fail' && existsSync(file)) return errorResult(409, exists);
  if (registry.live.has(name)) return errorResult(409, exists);
  mkdirSync(dirname(file), { recursive: true });
  const recording: LiveRecordingRecord = {
    name,
    format,
    target,
    state: 'queued',
    startedAt: performance.now(),
    pausedMs: 0,
    pausedAt: undefined,
    muted: false,
    measuresSilence: options.maxSilenceSeconds > 0,
    writable: registry.fault !== 'unwritable',
    appendTo: ifExists === 'append' && existsSync(file) ? readFileSync(file) : undefined,
    durationSeconds: undefined,
  };
  registry.live.set(name, recording);
  return recording;
}

/** `record_file`, run by the channel's (or the Recorder's) control thread after the 201. */
function runRecording(core: EmulatorCore, recording: LiveRecordingRecord, maxDurationSeconds: number): void {
  const registry = recordingsOf(core);
  if (registry.live.get(recording.name) !== recording || recording.state !== 'queued') return;
  if (recording.target.kind === 'channel') {
    const channel = core.channels.get(recording.target.channelId);
    if (!channel) {
      finishRecording(core, recording);
      return;
    }
    if (channel.bridgeId) {
      failRecording(core, recording, 'Cannot record channel while in bridge');
      return;
    }
    // ast_auto_answer: a channel not yet up is answered by being recorded.
    answerChannel(core, channel);
  }
  recording.state = 'recording';
  recording.startedAt = performance.now();
  writeRecordingFile(registry, recording, undefined);
  emitRecording(core, recording, 'RecordingStarted');
  if (!recording.writable) {
    // The stream never opened: the command returns at once and reports a finished recording.
    finishRecording(core, recording);
    return;
  }
  if (maxDurationSeconds > 0) {
    core.timers.set(timerOwner(recording), core.scaled(maxDurationSeconds * 1000), () =>
      finishRecording(core, recording),
    );
  }
}

function created(
  core: EmulatorCore,
  recording: LiveRecordingRecord,
  maxDurationSeconds: number,
): HandlerResult {
  return {
    status: 201,
    body: liveRecordingJson(recording),
    headers: { Location: `/recordings/live/${encodeURIComponent(recording.name)}` },
    after: () => runRecording(core, recording, maxDurationSeconds),
  };
}

const RECORD_READS = [
  'name',
  'format',
  'maxDurationSeconds',
  'maxSilenceSeconds',
  'ifExists',
  'beep',
  'terminateOn',
] as const;

/** `ast_ari_channels_record`, in Asterisk's order of checks. */
function recordChannel(ctx: RequestContext): HandlerResult {
  const { core } = ctx;
  const options = readOptions(ctx);
  ctx.bool('beep');
  if (options.maxDurationSeconds < 0) return errorResult(400, 'max_duration_seconds cannot be negative');
  if (options.maxSilenceSeconds < 0) return errorResult(400, 'max_silence_seconds cannot be negative');
  const channel = core.channels.get(ctx.string('channelId') ?? '');
  if (!channel) return errorResult(404, 'Channel not found');
  if (!channel.inStasis) return errorResult(409, 'Channel not in Stasis application');
  const invalid = optionError(options);
  if (invalid) return invalid;
  if (!options.format || !FILE_FORMATS.has(options.format) || recordingsOf(core).fault === 'unknown-format') {
    return errorResult(422, 'specified format is unknown on this system');
  }
  const recording = startRecording(core, options, { kind: 'channel', channelId: channel.id });
  return 'status' in recording ? recording : created(core, recording, options.maxDurationSeconds);
}

/** `ast_ari_bridges_record`: a Recorder channel joins the bridge and records its mix. */
function recordBridge(ctx: RequestContext): HandlerResult {
  const { core } = ctx;
  const bridge = core.bridges.get(ctx.string('bridgeId') ?? '');
  if (!bridge) return errorResult(404, 'Bridge not found');
  const options = readOptions(ctx);
  ctx.bool('beep');
  if (!options.format || !FILE_FORMATS.has(options.format) || recordingsOf(core).fault === 'unknown-format') {
    return errorResult(422, 'specified format is unknown on this system');
  }
  const recorderFormat = ctx.string('recorder_format');
  if (recorderFormat && !MEDIA_FORMATS.has(recorderFormat)) {
    return errorResult(422, 'specified recorder_format is unknown on this system');
  }
  const invalid = optionError(options);
  if (invalid) return invalid;
  const recording = startRecording(core, options, { kind: 'bridge', bridgeId: bridge.id });
  return 'status' in recording ? recording : created(core, recording, options.maxDurationSeconds);
}

/** A live recording by the `recordingName` path parameter. */
function live(ctx: RequestContext): LiveRecordingRecord | undefined {
  return recordingsOf(ctx.core).live.get(ctx.string('recordingName') ?? '');
}

/**
 * `stasis_app_recording_operation`: what each operation does in each state; none is possible on a
 * queued one but stop and cancel (which disregard it), hence 409 `Recording not in session`.
 */
function operate(
  ctx: RequestContext,
  operation: 'stop' | 'cancel' | 'pause' | 'unpause' | 'mute' | 'unmute',
): HandlerResult {
  const { core } = ctx;
  const recording = live(ctx);
  if (!recording) return recordingNotFound;
  const { state } = recording;
  if (state === 'queued' && operation !== 'stop' && operation !== 'cancel') {
    return errorResult(409, 'Recording not in session');
  }
  const now = performance.now();
  switch (operation) {
    case 'stop':
    case 'cancel':
      if (state === 'queued') {
        recording.state = 'canceled';
        recordingsOf(core).live.delete(recording.name);
        return { status: 204 };
      }
      if (operation === 'cancel') recording.state = 'canceled';
      return { status: 204, after: () => finishRecording(core, recording) };
    case 'pause':
      if (state === 'recording') {
        recording.state = 'paused';
        recording.pausedAt = now;
      }
      return { status: 204 };
    case 'unpause':
      if (state === 'paused' && recording.pausedAt !== undefined) {
        recording.pausedMs += now - recording.pausedAt;
        recording.pausedAt = undefined;
        recording.state = 'recording';
      }
      return { status: 204 };
    case 'mute':
    case 'unmute':
      recording.muted = operation === 'mute';
      return { status: 204 };
  }
}

/** Stored recordings: every file under the directory whose extension is a format Asterisk knows. */
function storedFiles(core: EmulatorCore): { name: string; format: string; file: string }[] {
  const { dir } = recordingsOf(core);
  if (!existsSync(dir)) return [];
  const found: { name: string; format: string; file: string }[] = [];
  const walk = (folder: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const file = join(folder, entry.name);
      if (entry.isDirectory()) walk(file);
      const dot = entry.name.lastIndexOf('.');
      const format = entry.name.slice(dot + 1);
      if (!entry.isFile() || dot <= 0 || !FILE_FORMATS.has(format)) continue;
      found.push({ name: relative(dir, file).slice(0, -(format.length + 1)), format, file });
    }
  };
  walk(dir);
  return found.sort((a, b) => a.name.localeCompare(b.name));
}

function stored(core: EmulatorCore, name: string | undefined) {
  if (!name || escapesDirectory(name)) return undefined;
  return storedFiles(core).find((recording) => recording.name === name);
}

const storedJson = (recording: { name: string; format: string }) => ({
  name: recording.name,
  format: recording.format,
});

export const recordingHandlers: OperationHandler[] = [
  { resource: 'channels', nickname: 'record', reads: ['channelId', ...RECORD_READS], handle: recordChannel },
  {
    resource: 'bridges',
    nickname: 'record',
    reads: ['bridgeId', 'recorder_format', ...RECORD_READS],
    handle: recordBridge,
  },
  {
    resource: 'recordings',
    nickname: 'getLive',
    reads: ['recordingName'],
    handle(ctx) {
      const recording = live(ctx);
      if (!recording) return recordingNotFound;
      const duration = Math.floor(recordedMs(ctx.core, recording) / 1000);
      return { status: 200, body: { ...liveRecordingJson(recording), duration } };
    },
  },
  ...(['stop', 'cancel', 'pause', 'unpause', 'mute', 'unmute'] as const).map(
    (operation): OperationHandler => ({
      resource: 'recordings',
      nickname: operation,
      reads: ['recordingName'],
      handle: (ctx) => operate(ctx, operation),
    }),
  ),
  {
    resource: 'recordings',
    nickname: 'listStored',
    reads: [],
    handle: (ctx) => ({ status: 200, body: storedFiles(ctx.core).map(storedJson) }),
  },
  {
    resource: 'recordings',
    nickname: 'getStored',
    reads: ['recordingName'],
    handle(ctx) {
      const recording = stored(ctx.core, ctx.string('recordingName'));
      return recording ? { status: 200, body: storedJson(recording) } : recordingNotFound;
    },
  },
  {
    resource: 'recordings',
    nickname: 'deleteStored',
    reads: ['recordingName'],
    handle(ctx) {
      const recording = stored(ctx.core, ctx.string('recordingName'));
      if (!recording) return recordingNotFound;
      unlinkSync(recording.file);
      return { status: 204 };
    },
  },
  {
    resource: 'recordings',
    nickname: 'getStoredFile',
    reads: ['recordingName'],
    handle(ctx) {
      const recording = stored(ctx.core, ctx.string('recordingName'));
      if (!recording) return recordingNotFound;
      let data: Buffer;
      try {
        data = readFileSync(recording.file);
      } catch {
        return errorResult(403, 'The recording file could not be opened');
      }
      const fileName = `${recording.name.split('/').pop()}.${recording.format}`;
      return {
        status: 200,
        raw: data,
        headers: { 'Content-Type': 'audio/wav', 'Content-Disposition': `attachment; filename="${fileName}"` },
      };
    },
  },
  {
    resource: 'recordings',
    nickname: 'copyStored',
    reads: ['recordingName', 'destinationRecordingName'],
    handle(ctx) {
      const source = stored(ctx.core, ctx.string('recordingName'));
      if (!source) return recordingNotFound;
      const destination = ctx.string('destinationRecordingName') ?? '';
      if (destination === '' || escapesDirectory(destination)) {
        return errorResult(500, 'Internal Server Error');
      }
      const file = recordingsOf(ctx.core).file(destination, source.format);
      if (existsSync(file) && statSync(file).isFile()) {
        return errorResult(409, 'A recording with the same name already exists on the system');
      }
      mkdirSync(dirname(file), { recursive: true });
      copyFileSync(source.file, file);
      return { status: 200, body: { name: destination, format: source.format } };
    },
  },
];
