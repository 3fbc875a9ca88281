import { connect, createServer, type Server, type Socket } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import './provided-context.ts';
import { startTcpProxy } from './tcp-proxy.ts';

let echo: Server;
let echoPort: number;

beforeAll(async () => {
  echo = createServer((socket) => socket.pipe(socket));
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  echoPort = (echo.address() as { port: number }).port;
});

afterAll(async () => {
  await new Promise((resolve) => echo.close(resolve));
});

/** Connects, sends `text`, and resolves with the echo or with how the connection ended. */
function roundTrip(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const socket: Socket = connect({ host: '127.0.0.1', port });
    let received = '';
    socket.on('connect', () => socket.write(text));
    socket.on('data', (chunk) => {
      received += chunk.toString();
      if (received === text) {
        socket.end();
        resolve(received);
      }
    });
    socket.on('error', () => resolve(`closed:${received}`));
    socket.on('close', () => resolve(`closed:${received}`));
  });
}

describe('tcp proxy', () => {
  it('relays, cuts live and new connections, and relays again after restore', async () => {
    const proxy = await startTcpProxy({ host: '127.0.0.1', port: echoPort });
    try {
      expect(await roundTrip(proxy.port, 'hello')).toBe('hello');

      const live = connect({ host: '127.0.0.1', port: proxy.port });
      const liveClosed = new Promise<void>((resolve) => live.on('close', () => resolve()));
      live.on('error', () => {});
      await new Promise((resolve) => live.on('connect', resolve));
      // The first round trip's connection may still be closing.
      await vi.waitFor(() => expect(proxy.liveConnections).toBe(1));

      proxy.cut();
      await liveClosed;
      expect(proxy.isCut).toBe(true);
      expect(proxy.liveConnections).toBe(0);
      expect(await roundTrip(proxy.port, 'anyone?')).toBe('closed:');

      proxy.restore();
      expect(await roundTrip(proxy.port, 'back')).toBe('back');
    } finally {
      await proxy.close();
    }
  });

  it('with a latency, passes every chunk on later, in order, also when the latency drops', async () => {
    const proxy = await startTcpProxy({ host: '127.0.0.1', port: echoPort });
    try {
      proxy.setLatency(400);
      // Sent first through the slow proxy, second straight to the server: the direct echo wins.
      const arrivals: string[] = [];
      const slow = roundTrip(proxy.port, 'slow').then((text) => arrivals.push(text));
      const direct = roundTrip(echoPort, 'direct').then((text) => arrivals.push(text));
      await Promise.all([slow, direct]);
      expect(arrivals).toEqual(['direct', 'slow']);

      // A chunk sent after the latency dropped never overtakes one still delayed.
      const socket = connect({ host: '127.0.0.1', port: proxy.port });
      let received = '';
      const done = new Promise<void>((resolve) => {
        socket.on('data', (chunk) => {
          received += chunk.toString();
          if (received.length >= 'firstsecond'.length) resolve();
        });
      });
      await new Promise((resolve) => socket.on('connect', resolve));
      socket.write('first');
      await vi.waitFor(() => expect(proxy.liveConnections).toBe(1));
      // 'first' reaches the proxy within this pause (loopback) and is held there for 400 ms.
      await new Promise((resolve) => setTimeout(resolve, 100));
      proxy.setLatency(0);
      socket.write('second');
      await done;
      expect(received).toBe('firstsecond');
      socket.destroy();

      expect(await roundTrip(proxy.port, 'fast again')).toBe('fast again');
    } finally {
      await proxy.close();
    }
  });

  it('rewrites a connection URL to go through it, and carries Postgres', async () => {
    const serverUrl = inject('postgresUrl');
    const { hostname, port } = new URL(serverUrl);
    const proxy = await startTcpProxy({ host: hostname, port: Number(port || 5432) });
    try {
      const proxied = new URL(proxy.url(serverUrl));
      expect(proxied.port).toBe(String(proxy.port));
      expect(proxied.pathname).toBe(new URL(serverUrl).pathname);

      const client = new pg.Client({ connectionString: proxied.toString() });
      client.on('error', () => {});
      await client.connect();
      expect((await client.query<{ one: number }>('select 1 as one')).rows).toEqual([{ one: 1 }]);
      proxy.cut();
      await expect(client.query('select 1')).rejects.toThrow();
      await client.end().catch(() => {});
    } finally {
      await proxy.close();
    }
  });
});
