/** A raw AMI client for the emulator tests: one TCP socket, messages as header maps, every wait bounded. */
import { connect, type Socket } from 'node:net';

/** One AMI message: its headers in order (names as sent). */
export type AmiMessage = [string, string][];

export const get = (message: AmiMessage, name: string): string | undefined =>
  message.find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1];

export interface AmiTestClient {
  readonly banner: Promise<string>;
  readonly messages: AmiMessage[];
  /** Resolves when the server closes the connection. */
  readonly closed: Promise<void>;
  send(headers: Record<string, string>): void;
  /** The first message (already received or coming) matching; rejects after timeoutMs. */
  next(match: (message: AmiMessage) => boolean, timeoutMs?: number): Promise<AmiMessage>;
  close(): void;
}

export async function openAmi(host: string, port: number): Promise<AmiTestClient> {
  const socket: Socket = connect(port, host);
  const messages: AmiMessage[] = [];
  const waiters = new Set<() => void>();
  let buffer = '';
  let current: AmiMessage = [];
  let resolveBanner: (line: string) => void = () => {};
  const banner = new Promise<string>((resolve) => {
    resolveBanner = resolve;
  });
  let bannerSeen = false;
  socket.setEncoding('utf8');
  socket.on('data', (text: string) => {
    buffer += text;
    for (let end = buffer.indexOf('\r\n'); end >= 0; end = buffer.indexOf('\r\n')) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (!bannerSeen) {
        bannerSeen = true;
        resolveBanner(line);
      } else if (line === '') {
        if (current.length > 0) messages.push(current);
        current = [];
        for (const wake of [...waiters]) wake();
      } else {
        const colon = line.indexOf(': ');
        current.push(colon < 0 ? [line, ''] : [line.slice(0, colon), line.slice(colon + 2)]);
      }
    }
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return {
    banner,
    messages,
    closed,
    send(headers) {
      socket.write(
        `${Object.entries(headers)
          .map(([k, v]) => `${k}: ${v}\r\n`)
          .join('')}\r\n`,
      );
    },
    next(match, timeoutMs = 3_000) {
      const found = messages.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const wake = () => {
          const hit = messages.find(match);
          if (!hit) return;
          waiters.delete(wake);
          clearTimeout(timer);
          resolve(hit);
        };
        const timer = setTimeout(() => {
          waiters.delete(wake);
          reject(
            new Error(`no matching AMI message within ${timeoutMs} ms; got ${JSON.stringify(messages)}`),
          );
        }, timeoutMs);
        waiters.add(wake);
      });
    },
    close: () => socket.destroy(),
  };
}

/** Matches a response by ActionID. */
export const response =
  (actionId: string) =>
  (message: AmiMessage): boolean =>
    get(message, 'Response') !== undefined && get(message, 'ActionID') === actionId;

/** Matches an event by name (and optional header values). */
export const event =
  (name: string, headers: Record<string, string> = {}) =>
  (message: AmiMessage): boolean =>
    get(message, 'Event') === name && Object.entries(headers).every(([k, v]) => get(message, k) === v);
