/**
 * Media playback on channels: `sound:` media with a configured duration plays for that long;
 * anything else fails at once (PlaybackStarted then PlaybackFinished `failed`), as Asterisk does
 * for a sound file it cannot find.
 */
import type { ChannelRecord, EmulatorCore, PlaybackRecord } from './emulator-core.ts';
import { errorResult, type OperationHandler } from './spec-router.ts';

const owner = (playback: PlaybackRecord): string => `playback:${playback.id}`;

/** Registers a queued playback; call {@link beginPlayback} once the 201 has been written. */
export function queuePlayback(
  core: EmulatorCore,
  channel: ChannelRecord,
  id: string,
  media: string[],
  language: string,
): PlaybackRecord {
  const playback: PlaybackRecord = { id, media, index: 0, channelId: channel.id, language, state: 'queued' };
  core.playbacks.set(id, playback);
  // Playing media on a channel suspends its music on hold (channels.json, startMoh notes).
  channel.moh = false;
  return playback;
}

export function beginPlayback(core: EmulatorCore, playback: PlaybackRecord): void {
  if (!core.playbacks.has(playback.id)) return;
  playback.state = 'playing';
  emitPlayback(core, playback, 'PlaybackStarted');
  playCurrent(core, playback);
}

function playCurrent(core: EmulatorCore, playback: PlaybackRecord): void {
  const media = playback.media[playback.index] ?? '';
  const duration = core.sounds[media];
  if (duration === undefined) {
    finishPlayback(core, playback, 'failed');
    return;
  }
  core.timers.set(owner(playback), core.scaled(duration), () => {
    if (playback.index + 1 < playback.media.length) {
      playback.index += 1;
      playback.state = 'continuing';
      emitPlayback(core, playback, 'PlaybackContinuing');
      playback.state = 'playing';
      playCurrent(core, playback);
    } else {
      finishPlayback(core, playback, 'done');
    }
  });
}

/** Ends a playback with PlaybackFinished (`done` when completed or stopped, `failed` otherwise). */
export function finishPlayback(core: EmulatorCore, playback: PlaybackRecord, state: 'done' | 'failed'): void {
  if (!core.playbacks.has(playback.id)) return;
  core.timers.clearOwner(owner(playback));
  playback.state = state;
  emitPlayback(core, playback, 'PlaybackFinished');
  core.playbacks.delete(playback.id);
}

/** A hung-up channel's playbacks end as failed (the stream was interrupted). */
export function endPlaybacksOf(core: EmulatorCore, channel: ChannelRecord): void {
  for (const playback of [...core.playbacks.values()]) {
    if (playback.channelId === channel.id) finishPlayback(core, playback, 'failed');
  }
}

function emitPlayback(core: EmulatorCore, playback: PlaybackRecord, type: string): void {
  const channel = core.channels.get(playback.channelId);
  core.emitEvent(channel ? core.channelAudience(channel) : [], {
    type,
    playback: core.playbackJson(playback),
  });
}

const playbackNotFound = errorResult(404, 'Playback not found');

export const playbackHandlers: OperationHandler[] = [
  {
    resource: 'playbacks',
    nickname: 'get',
    reads: ['playbackId'],
    handle(ctx) {
      const playback = ctx.core.playbacks.get(ctx.string('playbackId') ?? '');
      return playback ? { status: 200, body: ctx.core.playbackJson(playback) } : playbackNotFound;
    },
  },
  {
    resource: 'playbacks',
    nickname: 'stop',
    reads: ['playbackId'],
    handle(ctx) {
      const playback = ctx.core.playbacks.get(ctx.string('playbackId') ?? '');
      if (!playback) return playbackNotFound;
      return { status: 204, after: () => finishPlayback(ctx.core, playback, 'done') };
    },
  },
];
