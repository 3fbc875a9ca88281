/** `/asterisk` (info, ping) and `/applications` handlers (res/ari/resource_applications.c). */
import { asteriskTimestamp } from './asterisk-format.ts';
import type { EmulatorCore } from './emulator-core.ts';
import { subscribedEndpointIds, subscribeEventSources, unsubscribeEventSources } from './endpoints.ts';
import {
  errorResult,
  type HandlerResult,
  type OperationHandler,
  type RequestContext,
} from './spec-router.ts';

export const ASTERISK_VERSION = '22.10.1';

function info(core: EmulatorCore): Record<string, unknown> {
  const started = asteriskTimestamp(core.startedAt);
  return {
    build: {
      os: 'Linux',
      kernel: '6.8.0',
      options: '',
      machine: 'x86_64',
      date: '2026-01-01 00:00:00 UTC',
      user: 'root',
    },
    system: { version: ASTERISK_VERSION, entity_id: core.asteriskId },
    config: {
      name: 'siaga112-emulator',
      default_language: 'en',
      setid: { user: 'asterisk', group: 'asterisk' },
    },
    status: { startup_time: started, last_reload_time: started },
  };
}

function application(core: EmulatorCore, name: string): Record<string, unknown> {
  return {
    name,
    channel_ids: core.appChannelIds(name),
    bridge_ids: core.appBridgeIds(name),
    endpoint_ids: subscribedEndpointIds(core, name),
    device_names: [],
    events_allowed: [],
    events_disallowed: [],
  };
}

/** Registered app names, supplied by the events WebSocket hub. */
export type AppLister = () => string[];

/** `ast_ari_applications_subscribe` / `_unsubscribe`, in the order they check things. */
function changeSubscriptions(
  ctx: RequestContext,
  listApps: AppLister,
  change: typeof subscribeEventSources,
): HandlerResult {
  const sources = ctx.list('eventSource') ?? [];
  if (sources.length === 0) return errorResult(400, 'Missing parameter eventSource');
  const name = ctx.string('applicationName') ?? '';
  if (!listApps().includes(name)) return errorResult(404, 'Application not found');
  return change(ctx.core, name, sources) ?? { status: 200, body: application(ctx.core, name) };
}

export function systemHandlers(listApps: AppLister): OperationHandler[] {
  return [
    {
      resource: 'asterisk',
      nickname: 'getInfo',
      reads: ['only'],
      handle(ctx) {
        const all = info(ctx.core);
        const only = ctx.list('only');
        if (!only) return { status: 200, body: all };
        return {
          status: 200,
          body: Object.fromEntries(Object.entries(all).filter(([key]) => only.includes(key))),
        };
      },
    },
    {
      resource: 'asterisk',
      nickname: 'ping',
      reads: [],
      handle: (ctx) => ({
        status: 200,
        body: { asterisk_id: ctx.core.asteriskId, ping: 'pong', timestamp: asteriskTimestamp() },
      }),
    },
    {
      resource: 'applications',
      nickname: 'list',
      reads: [],
      handle: (ctx) => ({ status: 200, body: listApps().map((name) => application(ctx.core, name)) }),
    },
    {
      resource: 'applications',
      nickname: 'get',
      reads: ['applicationName'],
      handle(ctx) {
        const name = ctx.string('applicationName') ?? '';
        return listApps().includes(name)
          ? { status: 200, body: application(ctx.core, name) }
          : errorResult(404, 'Application not found');
      },
    },
    {
      resource: 'applications',
      nickname: 'subscribe',
      reads: ['applicationName', 'eventSource'],
      handle: (ctx) => changeSubscriptions(ctx, listApps, subscribeEventSources),
    },
    {
      resource: 'applications',
      nickname: 'unsubscribe',
      reads: ['applicationName', 'eventSource'],
      handle: (ctx) => changeSubscriptions(ctx, listApps, unsubscribeEventSources),
    },
  ];
}
