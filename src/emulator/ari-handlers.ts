/** Every ARI operation the emulator implements; the rest of the spec answers 501. */
import { bridgeHandlers } from './bridges.ts';
import { channelHandlers } from './channels.ts';
import { continueHandler } from './dialplan-continue.ts';
import { endpointHandlers } from './endpoints.ts';
import { playbackHandlers } from './playbacks.ts';
import { recordingHandlers } from './recordings.ts';
import type { OperationHandler } from './spec-router.ts';
import { type AppLister, systemHandlers } from './system-handlers.ts';

export function ariHandlers(listApps: AppLister): OperationHandler[] {
  return [
    ...systemHandlers(listApps),
    ...channelHandlers,
    continueHandler,
    ...bridgeHandlers,
    ...playbackHandlers,
    ...recordingHandlers,
    ...endpointHandlers,
  ];
}
