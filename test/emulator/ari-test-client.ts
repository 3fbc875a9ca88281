/** A raw ARI client for the emulator tests: fetch for HTTP, ws for events, every wait bounded. */
import WebSocket from 'ws';
import type { AsteriskEmulator } from '../../src/emulator/asterisk-emulator.ts';

export const USER = 'siaga112';
export const PASSWORD = 'test-secret';

export interface AriReply {
  status: number;
  body: unknown;
}

/** `path` is relative to /ari, e.g. `/channels/123/answer?x=1`. */
export async function ari(
  emulator: AsteriskEmulator,
  method: string,
  path: string,
  options: { body?: unknown; auth?: string | null } = {},
): Promise<AriReply> {
  const headers: Record<string, string> = {};
  const auth = options.auth === undefined ? `${USER}:${PASSWORD}` : options.auth;
  if (auth !== null) headers.Authorization = `Basic ${Buffer.from(auth).toString('base64')}`;
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(`${emulator.url}/ari${path}`, {
    method,
    headers,
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    signal: AbortSignal.timeout(5_000),
  });
  const text = await response.text();
  return { status: response.status, body: text.length > 0 ? JSON.parse(text) : undefined };
}

export type AriTestEvent = Record<string, unknown> & { type: string };

export interface EventStream {
  readonly events: AriTestEvent[];
  /** Resolves with the first event (already received or coming) matching; rejects after timeoutMs. */
  next(type: string, match?: (event: AriTestEvent) => boolean, timeoutMs?: number): Promise<AriTestEvent>;
  ofType(type: string): AriTestEvent[];
  close(): Promise<void>;
}

export async function openEvents(emulator: AsteriskEmulator, apps: string): Promise<EventStream> {
  const url = `${emulator.url.replace('http', 'ws')}/ari/events?app=${apps}&api_key=${USER}:${PASSWORD}`;
  const ws = new WebSocket(url);
  const events: AriTestEvent[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (data) => {
    events.push(JSON.parse(String(data)) as AriTestEvent);
    for (const wake of [...waiters]) wake();
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('events WebSocket did not open')), 5_000);
    ws.once('open', () => {
      clearTimeout(timer);
      resolve();
    });
    ws.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
  const find = (type: string, match: (event: AriTestEvent) => boolean) =>
    events.find((e) => e.type === type && match(e));
  return {
    events,
    ofType: (type) => events.filter((e) => e.type === type),
    next(type, match = () => true, timeoutMs = 5_000) {
      const found = find(type, match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const wake = () => {
          const hit = find(type, match);
          if (!hit) return;
          waiters.delete(wake);
          clearTimeout(timer);
          resolve(hit);
        };
        const timer = setTimeout(() => {
          waiters.delete(wake);
          reject(new Error(`no ${type} within ${timeoutMs} ms; got ${events.map((e) => e.type).join(', ')}`));
        }, timeoutMs);
        waiters.add(wake);
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (ws.readyState === WebSocket.CLOSED) {
          resolve();
          return;
        }
        const timer = setTimeout(() => {
          ws.terminate();
          resolve();
        }, 2_000);
        ws.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
        ws.close();
      }),
  };
}

/** The channel object an event carries. */
export const channelOf = (event: AriTestEvent): { id: string; state: string } =>
  event.channel as { id: string; state: string };

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
