import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Keeps proxies from closing a quiet stream, and shows the client the stream is alive. */
const HEARTBEAT_MS = 15_000;

export interface EventStream {
  send(event: string, data: unknown): void;
  /** Runs when the client goes away or the server closes. */
  onEnd(cleanup: () => void): void;
  /** The server ends the stream (the client's credentials no longer hold). */
  end(): void;
}

/**
 * Server-sent events for the routes of one plugin: `open` turns a request into a stream with
 * heartbeats; every open stream ends as the server starts closing (`preClose`: the server's close
 * waits for open connections, so a wallboard or desk left open would hold it up forever).
 */
export function eventStreams(
  app: FastifyInstance,
): (request: FastifyRequest, reply: FastifyReply) => EventStream {
  const open = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const end of open) end();
  });
  return (request, reply) => {
    reply.hijack();
    const out = reply.raw;
    out.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    const cleanups: Array<() => void> = [];
    const heartbeat = setInterval(() => out.write(': heartbeat\n\n'), HEARTBEAT_MS);
    heartbeat.unref();
    const end = () => {
      if (!open.delete(end)) return;
      clearInterval(heartbeat);
      for (const cleanup of cleanups) cleanup();
      out.end();
    };
    open.add(end);
    request.raw.on('close', end);
    return {
      send: (event, data) => {
        // A push still under way when the stream ended has nowhere to go.
        if (!open.has(end)) return;
        out.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      },
      end,
      onEnd: (cleanup) => {
        // Already gone (the client left while the route was still setting up): clean up now.
        if (open.has(end)) cleanups.push(cleanup);
        else cleanup();
      },
    };
  };
}
