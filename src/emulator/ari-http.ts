/**
 * The HTTP side of ARI as res_ari.c serves it: authentication (basic or `?api_key=user:pass`),
 * `/ari/api-docs/*` with `basePath` rewritten to the Host reached, routing, parameter parsing,
 * response validation against the spec, and the events WebSocket upgrade.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { operationKey } from './ari-spec.ts';
import type { EmulatorCore, SlowOperation } from './emulator-core.ts';
import { validateResponse } from './event-validator.ts';
import type { EventsHub } from './events-socket.ts';
import { createRequestContext, type HandlerResult, parseParameters, type SpecRouter } from './spec-router.ts';
import { ASTERISK_VERSION } from './system-handlers.ts';

export interface AriHttpDeps {
  core: EmulatorCore;
  router: SpecRouter;
  hub: EventsHub;
  username: string;
  password: string;
}

const MAX_BODY_BYTES = 1024 * 1024;
const AUTH_REALM = 'Asterisk REST Interface';
export const NOT_IMPLEMENTED_MESSAGE = 'Not implemented in the siaga112 emulator';

interface Reply extends HandlerResult {
  operation?: string;
}

function isAuthenticated(deps: AriHttpDeps, req: IncomingMessage, query: URLSearchParams): boolean {
  const header = req.headers.authorization;
  if (header?.startsWith('Basic ')) {
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    // Asterisk uses basic auth when present, without falling back to api_key.
    return (
      colon >= 0 && decoded.slice(0, colon) === deps.username && decoded.slice(colon + 1) === deps.password
    );
  }
  for (const [name, value] of query) {
    if (name.toLowerCase() === 'api_key') {
      const colon = value.indexOf(':');
      return (
        colon >= 0 && value.slice(0, colon) === deps.username && value.slice(colon + 1) === deps.password
      );
    }
  }
  return false;
}

const unauthorized: Reply = {
  status: 401,
  body: { message: 'Authentication required' },
  headers: { 'WWW-Authenticate': `Basic realm="${AUTH_REALM}"` },
};

function readBody(req: IncomingMessage): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > MAX_BODY_BYTES ? 'too-large' : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function apiDocs(deps: AriHttpDeps, req: IncomingMessage, method: string, file: string): Reply {
  if (method !== 'GET') return { status: 405, body: { message: 'Unsupported method' } };
  const spec = deps.core.spec;
  const doc =
    file === 'resources.json' ? spec.resourceListing : spec.apiDocs.get(file.replace(/\.json$/, ''));
  if (!doc || !file.endsWith('.json')) return { status: 404, body: { message: 'Resource not found' } };
  const host = req.headers.host;
  const body: Record<string, unknown> = { ...doc };
  if (host) body.basePath = `http://${host}/ari`;
  else delete body.basePath;
  return { status: 200, body };
}

async function handle(deps: AriHttpDeps, req: IncomingMessage, url: URL): Promise<Reply> {
  const method = (req.method ?? 'GET').toUpperCase();
  const raw = await readBody(req);
  if (raw === 'too-large') return { status: 413, body: { message: 'Request body too large' } };
  const contentType = (req.headers['content-type'] ?? '').toLowerCase();
  // Form fields behave as query parameters; the URL's own ones are read after them (and win).
  const query = new URLSearchParams();
  let json: Record<string, unknown> | undefined;
  if (raw.length > 0 && contentType.startsWith('application/x-www-form-urlencoded')) {
    for (const [k, v] of new URLSearchParams(raw.toString('utf8'))) query.append(k, v);
  } else if (raw.length > 0) {
    try {
      const parsed: unknown = JSON.parse(raw.toString('utf8'));
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
        json = parsed as Record<string, unknown>;
      }
    } catch {
      return { status: 400, body: { message: 'Error parsing request body' } };
    }
  }
  for (const [k, v] of url.searchParams) query.append(k, v);

  if (!isAuthenticated(deps, req, query)) return unauthorized;
  const uri = url.pathname.slice('/ari/'.length);
  if (uri.endsWith('/')) {
    return {
      status: 404,
      body: { message: `ARI URLs do not end with a slash. Try /ari/${uri.slice(0, -1)}` },
    };
  }
  if (uri.startsWith('api-docs/')) return apiDocs(deps, req, method, uri.slice('api-docs/'.length));

  const match = deps.router.match(method, `/${uri}`);
  if (match.kind === 'not-found') return { status: 404, body: { message: 'Resource not found' } };
  if (match.kind === 'method-not-allowed') {
    return {
      status: 405,
      body: { message: 'Invalid method' },
      headers: { Allow: ['OPTIONS', ...match.allow].join(',') },
    };
  }
  const { op, handler } = match.route;
  const operation = operationKey(op);
  if (op.websocket) return { status: 426, operation };
  if (!handler) return { status: 501, body: { message: NOT_IMPLEMENTED_MESSAGE }, operation };
  const parsed = parseParameters(op, match.pathParams, query, json);
  if (!parsed.ok) return { status: 400, body: { message: parsed.message }, operation };
  if (parsed.unknown.length > 0) {
    deps.core.recordViolation({
      kind: 'request',
      where: `${method} ${url.pathname}`,
      errors: parsed.unknown.map(
        (name) => `parameter ${name} is not declared for ${operation} (Asterisk ignores it)`,
      ),
      payload: { query: url.search, body: json },
    });
  }
  const slow = takeSlowRequest(deps.core, operation);
  if (slow?.hold === 'request') await holdFor(deps.core, slow.delayMs);
  const result = handler.handle(createRequestContext(deps.core, handler, parsed.values));
  const errors = validateResponse(deps.core.spec, op, result.status, result.body);
  if (errors.length > 0) {
    deps.core.recordViolation({ kind: 'response', where: operation, errors, payload: result.body });
  }
  if (slow?.hold === 'reply') await holdFor(deps.core, slow.delayMs);
  return { ...result, operation };
}

/** Counts one request against the operation's slowdown, if it has one left. */
function takeSlowRequest(core: EmulatorCore, operation: string): SlowOperation | undefined {
  const slow = core.slowOperations.get(operation);
  if (!slow) return undefined;
  if (slow.count <= 1) core.slowOperations.delete(operation);
  else core.slowOperations.set(operation, { ...slow, count: slow.count - 1 });
  return slow;
}

/** A wait the emulator's stop() cuts short (the request is then never answered, as in a crash). */
function holdFor(core: EmulatorCore, ms: number): Promise<void> {
  return new Promise((resolve) => core.timers.set('slow-operations', ms, resolve));
}

function write(res: ServerResponse, reply: Reply): void {
  const headers: Record<string, string> = { Server: `Asterisk/${ASTERISK_VERSION}`, ...reply.headers };
  if (reply.raw !== undefined) {
    res.writeHead(reply.status, { ...headers, 'Content-Length': String(reply.raw.length) }).end(reply.raw);
    return;
  }
  if (reply.body === undefined) {
    res.writeHead(reply.status, headers).end();
    return;
  }
  headers['Content-Type'] = 'application/json';
  res.writeHead(reply.status, headers).end(JSON.stringify(reply.body));
}

export function createRequestListener(
  deps: AriHttpDeps,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const receivedAt = performance.now();
    const url = new URL(req.url ?? '/', 'http://emulator.invalid');
    const method = (req.method ?? 'GET').toUpperCase();
    if (!url.pathname.startsWith('/ari/')) {
      res.writeHead(404, { 'Content-Type': 'text/html' }).end('<h1>Not Found</h1>');
      return;
    }
    handle(deps, req, url)
      .catch((error: unknown): Reply => {
        deps.core.recordViolation({
          kind: 'response',
          where: `${method} ${url.pathname}`,
          errors: [`emulator failure: ${String(error)}`],
          payload: undefined,
        });
        return { status: 500, body: { message: 'Internal Server Error' } };
      })
      .then((reply) => {
        write(res, reply);
        deps.core.observations.emit('request', {
          method,
          path: url.pathname,
          operation: reply.operation,
          status: reply.status,
          receivedAt,
          answeredAt: performance.now(),
        });
        reply.after?.();
      });
  };
}

function rejectUpgrade(socket: Duplex, status: number, text: string, reply: Reply): void {
  const body = JSON.stringify(reply.body ?? {});
  const extra = Object.entries(reply.headers ?? {})
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `${extra}Connection: close\r\n\r\n${body}`,
  );
}

export function createUpgradeListener(
  deps: AriHttpDeps,
): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  return (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://emulator.invalid');
    if (url.pathname !== '/ari/events') {
      rejectUpgrade(socket, 404, 'Not Found', { status: 404, body: { message: 'Resource not found' } });
      return;
    }
    if (!isAuthenticated(deps, req, url.searchParams)) {
      rejectUpgrade(socket, 401, 'Unauthorized', unauthorized);
      return;
    }
    const apps = (url.searchParams.get('app') ?? '').split(',').filter((a) => a.length > 0);
    if (apps.length === 0) {
      rejectUpgrade(socket, 400, 'Bad Request', { status: 400, body: { message: "Missing param 'app'" } });
      return;
    }
    deps.hub.accept(req, socket, head, apps);
  };
}
