import { connect, createServer, type Socket } from 'node:net';

/**
 * A real TCP proxy in front of one server, for taking that server away mid-test: `cut()`
 * destroys every live connection and drops new ones at once (as a dead peer's host would
 * refuse them), `restore()` lets traffic through again. `setLatency(ms)` makes the server slow
 * instead: every chunk, either way, is passed on `ms` later, in order.
 */
export interface TcpProxy {
  readonly host: string;
  readonly port: number;
  /** True between `cut()` and `restore()`. */
  readonly isCut: boolean;
  /** Client connections currently relayed. */
  readonly liveConnections: number;
  /** `connectionUrl` rewritten to reach its server through this proxy. */
  url(connectionUrl: string): string;
  cut(): void;
  restore(): void;
  /** Delays every chunk relayed from now on by `ms` in each direction (0: none); order is kept. */
  setLatency(ms: number): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const live = new Set<{ client: Socket; upstream: Socket }>();
  const destroyAll = () => {
    for (const pair of live) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    live.clear();
  };
  let isCut = false;
  let latencyMs = 0;
  /**
   * Passes `from`'s chunks to `to`, each `latencyMs` after it arrived, strictly in order: one
   * queue and one timer per direction (timers due in the same millisecond may fire in any order),
   * and a chunk never overtakes an earlier one, even when the latency drops meanwhile. Returns
   * when the last chunk is due.
   */
  const relay = (from: Socket, to: Socket): (() => number) => {
    const queue: Array<{ due: number; chunk: Buffer }> = [];
    let scheduled = false;
    let lastDue = 0;
    const drain = () => {
      while (queue.length > 0 && queue[0]!.due <= Date.now()) {
        const { chunk } = queue.shift()!;
        if (!to.destroyed) to.write(chunk);
      }
      scheduled = queue.length > 0;
      if (scheduled) setTimeout(drain, queue[0]!.due - Date.now());
    };
    from.on('data', (chunk: Buffer) => {
      const now = Date.now();
      if (latencyMs === 0 && queue.length === 0) {
        to.write(chunk);
        return;
      }
      lastDue = Math.max(now + latencyMs, lastDue);
      queue.push({ due: lastDue, chunk });
      if (!scheduled) {
        scheduled = true;
        setTimeout(drain, lastDue - now);
      }
    });
    return () => lastDue;
  };

  const server = createServer((client) => {
    if (isCut) {
      client.destroy();
      return;
    }
    const upstream = connect(target);
    const pair = { client, upstream };
    live.add(pair);
    const toUpstream = relay(client, upstream);
    const toClient = relay(upstream, client);
    const teardown = () => {
      live.delete(pair);
      // A side that closed still has its last chunks delivered to the other (a slow server's
      // reply is late, not lost); a cut destroys both at once.
      const wait = Math.max(toUpstream(), toClient()) - Date.now();
      if (wait <= 0) {
        client.destroy();
        upstream.destroy();
        return;
      }
      setTimeout(() => {
        client.destroy();
        upstream.destroy();
      }, wait);
    };
    client.on('error', teardown);
    upstream.on('error', teardown);
    client.on('close', teardown);
    upstream.on('close', teardown);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address !== 'object') throw new Error('tcp proxy has no address');
  const host = '127.0.0.1';
  const port = address.port;

  return {
    host,
    port,
    get isCut() {
      return isCut;
    },
    get liveConnections() {
      return live.size;
    },
    url(connectionUrl: string) {
      const url = new URL(connectionUrl);
      url.hostname = host;
      url.port = String(port);
      return url.toString();
    },
    cut() {
      isCut = true;
      destroyAll();
    },
    restore() {
      isCut = false;
    },
    setLatency(ms: number) {
      latencyMs = Math.max(0, ms);
    },
    close() {
      isCut = true;
      destroyAll();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
