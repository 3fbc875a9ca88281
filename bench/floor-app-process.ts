/**
 * The floor: a Stasis app with no logic, against which siaga112's figures are read. It answers a
 * caller, originates to the longest-idle free taker phone, bridges the two when the taker
 * answers and hangs up the other leg when one leaves. Plain node:http (keep-alive) and ws, no
 * screening, no queue in Redis, no records: what any ARI app pays for the same requests.
 */
import { Agent, request } from 'node:http';
import WebSocket from 'ws';
import type { FloorApi } from './bench-api.ts';
import { serve } from './ipc.ts';
import { createProcessProbe } from './process-probe.ts';

interface AriEventMessage {
  type: string;
  args?: string[];
  channel?: { id: string; caller: { number: string } };
}

const probe = createProcessProbe();
const agent = new Agent({ keepAlive: true, maxSockets: 32 });
let socket: WebSocket | undefined;

function startFloor(options: FloorApi['start']['args']): Promise<null> {
  const base = new URL(options.url);
  const authorization = `Basic ${Buffer.from(`${options.username}:${options.password}`).toString('base64')}`;
  const ari = (method: string, path: string, query: Record<string, string> = {}) =>
    new Promise<number>((resolve) => {
      const search = new URLSearchParams(query).toString();
      const req = request(
        {
          host: base.hostname,
          port: base.port,
          method,
          path: `/ari${path}${search ? `?${search}` : ''}`,
          agent,
          headers: { authorization },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', () => resolve(0));
      req.end();
    });

  /** Taker endpoints free now, longest idle first. */
  const free = [...options.endpoints];
  const waiting: string[] = [];
  /** Caller channel → its number and taker leg; taker leg → caller channel and endpoint. */
  const callers = new Map<string, { number: string; leg: string | undefined }>();
  const legs = new Map<string, { caller: string; endpoint: string }>();
  const bridgeOf = (caller: string) => `floor-${caller}`;

  const offer = (caller: string) => {
    const call = callers.get(caller);
    const endpoint = free.shift();
    if (!call) return;
    if (!endpoint) {
      waiting.push(caller);
      return;
    }
    const leg = `floor-leg-${caller}`;
    call.leg = leg;
    legs.set(leg, { caller, endpoint });
    void ari('POST', `/channels/${leg}`, {
      endpoint,
      app: options.app,
      appArgs: 'leg',
      callerId: call.number,
      timeout: '30',
    });
  };

  const onMessage = (data: WebSocket.RawData) => {
    const event = JSON.parse(data.toString()) as AriEventMessage;
    const id = event.channel?.id;
    if (!id) return;
    if (event.type === 'StasisStart') {
      const leg = legs.get(id);
      if (leg) {
        const bridge = bridgeOf(leg.caller);
        void ari('POST', `/bridges/${bridge}`, { type: 'mixing' }).then(() =>
          ari('POST', `/bridges/${bridge}/addChannel`, { channel: `${leg.caller},${id}` }),
        );
        return;
      }
      callers.set(id, { number: event.channel?.caller.number ?? '', leg: undefined });
      void ari('POST', `/channels/${id}/answer`);
      offer(id);
    } else if (event.type === 'ChannelDestroyed') {
      const leg = legs.get(id);
      if (leg) {
        legs.delete(id);
        free.push(leg.endpoint);
        if (callers.has(leg.caller)) {
          void ari('DELETE', `/bridges/${bridgeOf(leg.caller)}`);
          void ari('DELETE', `/channels/${leg.caller}`);
        }
        const next = waiting.shift();
        if (next) offer(next);
        return;
      }
      const call = callers.get(id);
      if (!call) return;
      callers.delete(id);
      const queued = waiting.indexOf(id);
      if (queued >= 0) waiting.splice(queued, 1);
      if (call.leg && legs.has(call.leg)) {
        void ari('DELETE', `/bridges/${bridgeOf(id)}`);
        void ari('DELETE', `/channels/${call.leg}`);
      }
    }
  };

  return new Promise((resolve, reject) => {
    const url = new URL('/ari/events', options.url);
    url.protocol = 'ws:';
    url.searchParams.set('app', options.app);
    url.searchParams.set('api_key', `${options.username}:${options.password}`);
    socket = new WebSocket(url);
    socket.on('message', onMessage);
    socket.once('open', () => resolve(null));
    socket.once('error', reject);
  });
}

serve<FloorApi>({
  start: (options) => startFloor(options),
  sample: ({ gc }) => probe.sample({ gc }),
  stop() {
    socket?.close();
    agent.destroy();
    setImmediate(() => process.exit(0));
    return null;
  },
});
