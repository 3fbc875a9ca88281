/**
 * `POST /channels/{channelId}/continue` (`ast_ari_channels_continue_in_dialplan`): the channel
 * leaves the app (StasisEnd) and the dialplan carries on where the request says. The emulator has
 * no dialplan of its own: the continuation is recorded in `core.fallbackCalls`, as a call that
 * failed into the fallback is, and the channel leaves the emulated Asterisk, as it does then.
 */
import { endChannel } from './channel-lifecycle.ts';
import type { EmulatorCore } from './emulator-core.ts';
import { errorResult, type OperationHandler } from './spec-router.ts';

export const continueHandler: OperationHandler = {
  resource: 'channels',
  nickname: 'continueInDialplan',
  reads: ['channelId', 'context', 'extension', 'priority', 'label'],
  handle(ctx) {
    const { core } = ctx;
    const channel = core.channels.get(ctx.string('channelId') ?? '');
    if (!channel) return errorResult(404, 'Channel not found');
    if (!channel.inStasis) return errorResult(409, 'Channel not in Stasis application');
    if (channel.state === 'Down' || channel.state === 'Rsrvd' || channel.state === 'Ringing') {
      return errorResult(412, 'Channel in invalid state');
    }
    const context = ctx.string('context');
    const extension = ctx.string('extension');
    const priority = ctx.int('priority');
    const label = ctx.string('label');
    // Unset parts keep the channel's own; a label supersedes the priority. The emulated dialplan
    // has no labels, so only a numeric one (a priority) can be found.
    let target: number;
    if (label) {
      if (!/^\d+$/.test(label)) return errorResult(404, 'Requested label can not be found');
      target = Number(label);
    } else if (priority) {
      target = priority;
    } else if (!context && !extension) {
      target = channel.dialplan.priority + 1;
    } else {
      target = 1;
    }
    continueAt(core, channel.id, {
      context: context || channel.dialplan.context,
      exten: extension || channel.dialplan.exten,
      priority: target,
    });
    return { status: 204 };
  },
};

function continueAt(
  core: EmulatorCore,
  channelId: string,
  dialplan: { context: string; exten: string; priority: number },
): void {
  const channel = core.channels.get(channelId);
  if (!channel) return;
  core.fallbackCalls.push({
    channelId: channel.id,
    from: channel.caller.number,
    trunk: channel.endpointId.replace(/^PJSIP\//, ''),
    app: channel.app ?? '',
    at: performance.now(),
    dialplan,
  });
  // StasisEnd, then the dialplan (outside the emulator) has the call: the emulator lets it go.
  endChannel(core, channel, { by: 'asterisk', cause: 16, request: 'none' });
}
