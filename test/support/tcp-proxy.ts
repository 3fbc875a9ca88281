import { connect, createServer, type Socket } from 'node:net';

/**
 * A real TCP proxy in front of one server, for taking that server away mid-test: `cut()`
 * destroys every live connection and drops new ones at once (as a dead peer's host would
 * refuse them), `restore()` lets traffic through again.
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

  const server = createServer((client) => {
    if (isCut) {
      client.destroy();
      return;
    }
    const upstream = connect(target);
    const pair = { client, upstream };
    live.add(pair);
    const teardown = () => {
      client.destroy();
      upstream.destroy();
      live.delete(pair);
    };
    client.on('error', teardown);
    upstream.on('error', teardown);
    client.on('close', teardown);
    upstream.on('close', teardown);
    client.pipe(upstream);
    upstream.pipe(client);
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
    close() {
      isCut = true;
      destroyAll();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
