/**
 * TALK_DETECT as Asterisk reports it: ChannelTalkingStarted about 900 ms after speech begins,
 * ChannelTalkingFinished 2,500 ms of (audible) silence after it ends, carrying the talk duration.
 * Only on channels where the app set `TALK_DETECT(set)`. Latencies follow the emulator's timeScale
 * because they are part of the caller's simulated timeline.
 */
import type { ChannelRecord, EmulatorCore } from './emulator-core.ts';

export const TALK_START_LATENCY_MS = 900;
export const TALK_SILENCE_THRESHOLD_MS = 2500;

export function speechStarted(core: EmulatorCore, channel: ChannelRecord): void {
  const talk = channel.talk;
  if (talk.speaking || channel.gone) return;
  talk.speaking = true;
  if (talk.finishTimer) {
    // Speech resumed inside the silence window: still the same burst for talk detection.
    core.timers.clear(channel.id, talk.finishTimer);
    talk.finishTimer = undefined;
    return;
  }
  talk.burstStart = performance.now();
  talk.reported = false;
  if (channel.talkDetect) scheduleStart(core, channel);
}

export function speechStopped(core: EmulatorCore, channel: ChannelRecord): void {
  const talk = channel.talk;
  if (!talk.speaking || channel.gone) return;
  talk.speaking = false;
  talk.lastStop = performance.now();
  if (!talk.reported) {
    // Too short to be detected as talking.
    core.timers.clear(channel.id, talk.startTimer);
    talk.startTimer = undefined;
    talk.burstStart = undefined;
    return;
  }
  talk.finishTimer = core.timers.set(channel.id, core.scaled(TALK_SILENCE_THRESHOLD_MS), () => {
    talk.finishTimer = undefined;
    const start = talk.burstStart ?? talk.lastStop ?? performance.now();
    const duration = Math.round(((talk.lastStop ?? start) - start) * core.timeScale);
    talk.reported = false;
    talk.burstStart = undefined;
    if (channel.talkDetect) core.emitChannelEvent(channel, { type: 'ChannelTalkingFinished', duration });
  });
}

/** `TALK_DETECT(set)`: detection starts now, also for speech already under way. */
export function enableTalkDetect(core: EmulatorCore, channel: ChannelRecord): void {
  if (channel.talkDetect) return;
  channel.talkDetect = true;
  if (channel.talk.speaking && !channel.talk.reported) {
    channel.talk.burstStart = performance.now();
    scheduleStart(core, channel);
  }
}

/** `TALK_DETECT(remove)`. */
export function disableTalkDetect(core: EmulatorCore, channel: ChannelRecord): void {
  channel.talkDetect = false;
  const talk = channel.talk;
  core.timers.clear(channel.id, talk.startTimer);
  core.timers.clear(channel.id, talk.finishTimer);
  talk.startTimer = undefined;
  talk.finishTimer = undefined;
  talk.reported = false;
}

function scheduleStart(core: EmulatorCore, channel: ChannelRecord): void {
  const talk = channel.talk;
  talk.startTimer = core.timers.set(channel.id, core.scaled(TALK_START_LATENCY_MS), () => {
    talk.startTimer = undefined;
    if (!talk.speaking || !channel.talkDetect) return;
    talk.reported = true;
    core.emitChannelEvent(channel, { type: 'ChannelTalkingStarted' });
  });
}
