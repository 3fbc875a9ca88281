/**
 * Virtual call-taker phones behind `PJSIP/<resource>` endpoints and the originate dial that rings
 * them: ringing, then answer (StasisStart), reject (busy/declined) or no answer until the
 * originate timeout (ChannelDestroyed cause 19).
 */
import type { AriCallerId } from '../ari/ari-models.ts';
import { answerChannel, endChannel, enterStasis, setChannelState } from './channel-lifecycle.ts';
import type { ChannelRecord, EmulatorCore } from './emulator-core.ts';

export interface DialRequest {
  endpoint: string;
  channelId: string | undefined;
  app: string;
  appArgs: string[];
  caller: AriCallerId;
  /** Seconds (scaled by timeScale); -1 = no timeout. */
  timeoutSeconds: number;
  variables: Record<string, string>;
}

/** Creates the outbound channel (state Down) and starts dialling; returns it for the 200 reply. */
export function dialEndpoint(core: EmulatorCore, request: DialRequest): ChannelRecord {
  const behaviour = core.endpoints.get(request.endpoint)?.behaviour;
  const channel = core.newChannel({
    ...(request.channelId ? { id: request.channelId } : {}),
    endpoint: request.endpoint,
    kind: 'originated',
    state: 'Down',
    caller: request.caller,
    connected: { ...request.caller },
    dialplan: { context: 'default', exten: 's', priority: 1, app_name: '', app_data: '' },
    app: request.app,
  });
  for (const [name, value] of Object.entries(request.variables)) channel.vars.set(name, value);
  channel.dialing = true;
  channel.dialstring = request.endpoint.slice(request.endpoint.indexOf('/') + 1);
  channel.pickUp = () => takerAnswers(core, channel, request);
  core.timers.set(channel.id, 0, () => {
    setChannelState(core, channel, 'Ringing');
    emitDial(core, channel, 'RINGING');
    if (!behaviour) return;
    if (behaviour.answer === 'after') {
      core.timers.set(channel.id, core.scaled(behaviour.delayMs), () => takerAnswers(core, channel, request));
      if (behaviour.hangupAfterMs !== undefined) {
        const talkMs = behaviour.hangupAfterMs;
        channel.onAnswered = () => {
          core.timers.set(channel.id, core.scaled(talkMs), () =>
            endChannel(core, channel, { by: 'remote', cause: 16, request: 'remote' }),
          );
        };
      }
    } else if (behaviour.answer === 'reject') {
      const cause = behaviour.cause ?? 17;
      core.timers.set(channel.id, 0, () =>
        endChannel(core, channel, { by: 'remote', cause, request: 'remote' }),
      );
    }
  });
  if (request.timeoutSeconds > 0) {
    core.timers.set(channel.id, core.scaled(request.timeoutSeconds * 1000), () => {
      if (channel.dialing) endChannel(core, channel, { by: 'asterisk', cause: 19, request: 'none' });
    });
  }
  return channel;
}

function takerAnswers(core: EmulatorCore, channel: ChannelRecord, request: DialRequest): void {
  if (!channel.dialing || channel.gone) return;
  channel.dialing = false;
  emitDial(core, channel, 'ANSWER');
  answerChannel(core, channel);
  enterStasis(core, channel, request.app, request.appArgs);
}

function emitDial(core: EmulatorCore, channel: ChannelRecord, dialstatus: string): void {
  core.emitEvent(core.channelAudience(channel), {
    type: 'Dial',
    peer: core.channelJson(channel),
    dialstring: channel.dialstring,
    dialstatus,
  });
}

/** `ast_callerid_parse`: `"Name" <number>`, `Name <number>`, a bare number, or a bare name. */
export function parseCallerId(raw: string | undefined): AriCallerId {
  if (!raw) return { name: '', number: '' };
  const angle = /^(.*)<([^>]*)>\s*$/.exec(raw);
  if (angle) {
    return { name: (angle[1] ?? '').trim().replace(/^"(.*)"$/, '$1'), number: shrink(angle[2] ?? '') };
  }
  const trimmed = raw.trim();
  return /^[0-9+*#()\-. ]+$/.test(trimmed)
    ? { name: '', number: shrink(trimmed) }
    : { name: trimmed, number: '' };
}

const shrink = (number: string): string => number.replace(/[()\-. ]/g, '');
