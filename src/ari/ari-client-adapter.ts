import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import ari, { type AriClient, type SwaggerResponse } from 'ari-client';
import WebSocket from 'ws';
import type { Logger } from '../logger.ts';
import { withTimeout } from '../with-timeout.ts';
import { type AriMessageRejection, parseAriMessage } from './ari-event-parser.ts';
import type { AriBridge, AriChannel, AriEndpoint, AriLiveRecording } from './ari-models.ts';
import { ARI_OPERATIONS, type AriOperationName } from './ari-operations.ts';
import {
  AriError,
  type AriErrorCode,
  type AriListener,
  type AriPort,
  type ConnectionState,
  type DialplanTarget,
  type OriginateRequest,
  type RecordRequest,
  type SnoopRequest,
} from './ari-port.ts';

// swagger-client 2.0 (inside ari-client) assigns a global `log` that prints a notice about
// Asterisk's Swagger 1.1 files on every connect and keeps every message forever: silence it.
if ('log' in globalThis) Object.assign(globalThis, { log: () => {} });

export interface AriClientAdapterOptions {
  url: string;
  username: string;
  password: string;
  app: string;
  /** Bound on every REST request and on each connection attempt. */
  requestTimeoutMs: number;
  logger: Logger;
  /** How often the events socket is pinged; a missing pong within this interval drops it. */
  keepAliveMs?: number;
  /** Reconnect delay bounds (exponential with jitter between them). */
  reconnectDelayMs?: { min: number; max: number };
}

/** One ARI operation as the loaded Swagger description has it: where its parameters go. */
interface LoadedOperation {
  method: string;
  /** Base path and the operation's path, `{name}` placeholders still in. */
  url: string;
  pathParams: string[];
  /** In the description's order, as swagger-client sends them. */
  queryParams: string[];
}

/**
 * The AriPort on top of ari-client. ari-client loads Asterisk's Swagger description at connect
 * time; each REST call is then made as swagger-client would make it from that description (path
 * parameters in the path, query parameters in the query string, a `body` as JSON), but over a
 * keep-alive connection of our own: swagger-client's HTTP stack opened a connection per request
 * and cost more CPU than the rest of a call's requests together. We need the HTTP status (404 vs
 * 409 vs 5xx as facts, not message text), which ari-client's own wrapper discards.
 * The events WebSocket is ours: ari-client's gives up after ten reconnects and throws on a
 * message it cannot parse, and an emergency service must do neither.
 */
export class AriClientAdapter implements AriPort {
  readonly app: string;
  #options: Required<AriClientAdapterOptions>;
  #client: AriClient | undefined;
  #operations: Map<AriOperationName, LoadedOperation> | undefined;
  readonly #agent: HttpAgent;
  readonly #authorization: string;
  #socket: WebSocket | undefined;
  #eventListeners = new Set<AriListener>();
  #connectionListeners = new Set<(state: ConnectionState) => void>();
  #rejectionListeners = new Set<(reason: AriMessageRejection) => void>();
  #connected = false;
  #closed = false;
  #stop = new AbortController();
  #loop: Promise<void> | undefined;

  constructor(options: AriClientAdapterOptions) {
    this.app = options.app;
    this.#options = {
      keepAliveMs: 5000,
      reconnectDelayMs: { min: 100, max: 5000 },
      ...options,
    };
    const https = new URL(options.url).protocol === 'https:';
    // Bounded: Asterisk's HTTP server takes a limited number of sessions (http.conf session_limit).
    const agentOptions = { keepAlive: true, maxSockets: 64 };
    this.#agent = https ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
    this.#authorization = `Basic ${Buffer.from(`${options.username}:${options.password}`).toString('base64')}`;
  }

  get connected(): boolean {
    return this.#connected;
  }

  onEvent(listener: AriListener): () => void {
    this.#eventListeners.add(listener);
    return () => this.#eventListeners.delete(listener);
  }

  onConnectionChange(listener: (state: ConnectionState) => void): () => void {
    this.#connectionListeners.add(listener);
    return () => this.#connectionListeners.delete(listener);
  }

  /** Told of every message on the events socket that is not an event we can act on (metrics). */
  onMessageRejected(listener: (reason: AriMessageRejection) => void): () => void {
    this.#rejectionListeners.add(listener);
    return () => this.#rejectionListeners.delete(listener);
  }

  /** Starts (or resumes) the connect/reconnect loop and resolves at once; `connected` tells when it is up. */
  async start(): Promise<void> {
    if (this.#closed || this.#loop) return;
    this.#stop = new AbortController();
    this.#loop = this.#run(this.#stop.signal);
  }

  /**
   * Closes the events socket and stops reconnecting, keeping REST usable; start() resumes. A
   * standby instance holds no socket: Asterisk gives an application's events to one socket only.
   */
  async pause(): Promise<void> {
    const loop = this.#loop;
    if (!loop) return;
    this.#stop.abort();
    this.#socket?.terminate();
    await loop;
    this.#loop = undefined;
    this.#setConnected(false);
  }

  /** Resolves once connected, or rejects after `timeoutMs`. */
  async waitUntilConnected(timeoutMs: number): Promise<void> {
    if (this.#connected) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new AriError('connect', 'unavailable', undefined, `not connected within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.onConnectionChange((state) => {
        if (state !== 'connected') return;
        clearTimeout(timer);
        off();
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.pause();
  }

  async #run(stop: AbortSignal): Promise<void> {
    const { min, max } = this.#options.reconnectDelayMs;
    let failures = 0;
    while (!stop.aborted) {
      try {
        this.#client = await withAriTimeout(
          ari.connect(this.#options.url, this.#options.username, this.#options.password),
          this.#options.requestTimeoutMs,
          'loading the ARI description',
        );
        this.#operations = this.#checkOperations(this.#client);
        const socket = await this.#openSocket();
        if (stop.aborted) {
          socket.terminate();
          break;
        }
        failures = 0;
        this.#setConnected(true);
        await this.#untilClosed(socket);
      } catch (error) {
        if (!stop.aborted) this.#options.logger.warn({ err: error }, 'ARI connection attempt failed');
      }
      this.#setConnected(false);
      if (stop.aborted) break;
      const delay = Math.min(max, min * 2 ** failures++) * (0.5 + Math.random() / 2);
      await sleep(delay, stop);
    }
  }

  #checkOperations(client: AriClient): Map<AriOperationName, LoadedOperation> {
    const loaded = new Map<AriOperationName, LoadedOperation>();
    const fallbackBase = `${new URL(this.#options.url).origin}/ari`;
    for (const [name, op] of Object.entries(ARI_OPERATIONS) as Array<
      [AriOperationName, (typeof ARI_OPERATIONS)[AriOperationName]]
    >) {
      const resource = client._swagger.apis[op.resource];
      const description = resource?.operations?.[op.nickname];
      if (typeof resource?.[op.nickname] !== 'function' || !description) {
        throw new AriError(
          name,
          'asterisk',
          undefined,
          `this Asterisk has no ARI operation ${op.resource}.${op.nickname}`,
        );
      }
      const base = typeof resource.basePath === 'string' ? resource.basePath : fallbackBase;
      const params = description.parameters ?? [];
      loaded.set(name, {
        method: description.method.toUpperCase(),
        url: base + description.path.replace('{format}', 'json'),
        pathParams: params.filter((p) => p.paramType === 'path').map((p) => p.name),
        queryParams: params.filter((p) => p.paramType === 'query').map((p) => p.name),
      });
    }
    return loaded;
  }

  #openSocket(): Promise<WebSocket> {
    const base = new URL(this.#options.url);
    base.protocol = base.protocol === 'https:' ? 'wss:' : 'ws:';
    base.pathname = `${base.pathname.replace(/\/+$/, '')}/ari/events`;
    base.search = new URLSearchParams({
      app: this.app,
      api_key: `${this.#options.username}:${this.#options.password}`,
    }).toString();
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(base, { handshakeTimeout: this.#options.requestTimeoutMs });
      socket.once('open', () => {
        socket.off('error', reject);
        this.#socket = socket;
        resolve(socket);
      });
      socket.once('error', reject);
    });
  }

  #untilClosed(socket: WebSocket): Promise<void> {
    return new Promise((resolve) => {
      let alive = true;
      const keepAlive = setInterval(() => {
        if (!alive) {
          this.#options.logger.warn('ARI events socket missed a pong; reconnecting');
          socket.terminate();
          return;
        }
        alive = false;
        socket.ping();
      }, this.#options.keepAliveMs);
      socket.on('pong', () => {
        alive = true;
      });
      socket.on('message', (data) => this.#dispatch(data.toString()));
      socket.on('error', (error) => this.#options.logger.warn({ err: error }, 'ARI events socket error'));
      socket.once('close', (code) => {
        clearInterval(keepAlive);
        if (this.#socket === socket) this.#socket = undefined;
        if (!this.#stop.signal.aborted) this.#options.logger.warn({ code }, 'ARI events socket closed');
        resolve();
      });
    });
  }

  #dispatch(data: string): void {
    const parsed = parseAriMessage(data);
    if (parsed.kind === 'malformed') {
      // Its size, never its content: a hostile frame can be megabytes, or carry a caller's number.
      this.#options.logger.warn(
        { reason: parsed.reason, detail: parsed.detail.slice(0, 200), size: data.length },
        'ignoring malformed ARI message',
      );
      for (const listener of this.#rejectionListeners) listener(parsed.reason);
      return;
    }
    if (parsed.kind === 'ignored') {
      // Asterisk sends many event types siaga112 does not use: nothing to warn about.
      this.#options.logger.debug(
        { type: parsed.type.slice(0, 64), size: data.length },
        'ignoring an ARI event type siaga112 does not use',
      );
      return;
    }
    for (const listener of this.#eventListeners) {
      try {
        listener(parsed.event);
      } catch (error) {
        this.#options.logger.error({ err: error, type: parsed.event.type }, 'ARI event handler failed');
      }
    }
  }

  #setConnected(connected: boolean): void {
    if (this.#connected === connected) return;
    this.#connected = connected;
    for (const listener of this.#connectionListeners) listener(connected ? 'connected' : 'disconnected');
  }

  /** Runs one ARI operation as the loaded Swagger description says, bounded in time. */
  #call<T>(name: AriOperationName, params: Record<string, unknown>): Promise<T> {
    const operation = this.#operations?.get(name);
    if (!this.#connected || !operation) {
      return Promise.reject(new AriError(name, 'unavailable', undefined, 'not connected to Asterisk'));
    }
    const request = new Promise<T>((resolve, reject) => {
      this.#send(operation, params, (response) => {
        if (response.status >= 200 && response.status < 300) resolve(responseBody(response) as T);
        else reject(toAriError(name, response));
      });
    });
    // Timed out is not failed: Asterisk may have received the request and acted on it.
    return withAriTimeout(request, this.#options.requestTimeoutMs, name, 'no-reply');
  }

  /**
   * One HTTP request, built as swagger-client 2.0 builds it: path parameters encoded into the
   * path, the query parameters given (in the description's order) in the query string, a `body`
   * sent as JSON. A request that never got a status is status 0 (`no-reply`: it may have landed).
   */
  #send(
    operation: LoadedOperation,
    params: Record<string, unknown>,
    done: (response: SwaggerResponse) => void,
    retry = true,
  ): void {
    let url = operation.url;
    for (const name of operation.pathParams) {
      url = url.replace(`{${name}}`, encodeURIComponent(String(params[name])));
    }
    let query = '';
    for (const name of operation.queryParams) {
      const value = params[name];
      if (value === undefined) continue;
      query += `${query ? '&' : '?'}${encodeURIComponent(name)}=${encodeURIComponent(String(value))}`;
    }
    const body = typeof params.body === 'string' ? params.body : undefined;
    const headers: Record<string, string> = {
      authorization: this.#authorization,
      accept: 'application/json',
    };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    const send = url.startsWith('https:') ? httpsRequest : httpRequest;
    const req = send(
      url + query,
      { method: operation.method, headers, agent: this.#agent },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const data = Buffer.concat(chunks).toString();
          const contentType = res.headers['content-type'] ?? '';
          const response: SwaggerResponse = { status: res.statusCode ?? 0, data };
          if (contentType.startsWith('application/json') || contentType.includes('+json')) {
            try {
              response.obj = data === '' ? {} : JSON.parse(data);
            } catch {
              // Not JSON after all: the text is the body.
            }
          }
          done(response);
        });
        res.on('error', (error) => done({ status: 0, data: error.message }));
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) => {
      // A kept-alive connection the server closed as we reused it: the request never reached it.
      if (retry && req.reusedSocket && error.code === 'ECONNRESET')
        this.#send(operation, params, done, false);
      else done({ status: 0, data: error.message });
    });
    req.end(body);
  }

  async answer(channelId: string): Promise<void> {
    await this.#call('answer', { channelId });
  }

  async hangup(
    channelId: string,
    reason: 'normal' | 'busy' | 'congestion' | 'no_answer' = 'normal',
  ): Promise<void> {
    await this.#call('hangup', { channelId, reason });
  }

  async continueInDialplan(channelId: string, target: DialplanTarget): Promise<void> {
    await this.#call('continueInDialplan', {
      channelId,
      context: target.context,
      extension: target.extension,
      priority: target.priority,
    });
  }

  async play(channelId: string, playbackId: string, media: string[], lang?: string): Promise<void> {
    await this.#call('play', { channelId, playbackId, media: media.join(','), ...(lang ? { lang } : {}) });
  }

  async stopPlayback(playbackId: string): Promise<void> {
    await this.#call('stopPlayback', { playbackId });
  }

  async startMoh(channelId: string, mohClass?: string): Promise<void> {
    await this.#call('startMoh', { channelId, ...(mohClass ? { mohClass } : {}) });
  }

  async stopMoh(channelId: string): Promise<void> {
    await this.#call('stopMoh', { channelId });
  }

  async setVariable(channelId: string, variable: string, value: string): Promise<void> {
    await this.#call('setVariable', { channelId, variable, value });
  }

  originate(request: OriginateRequest): Promise<AriChannel> {
    return this.#call('originate', {
      channelId: request.channelId,
      endpoint: request.endpoint,
      app: this.app,
      appArgs: request.appArgs.join(','),
      timeout: request.timeoutSeconds,
      ...(request.callerId ? { callerId: request.callerId } : {}),
      // ari-client sends body parameters as JSON; Asterisk expects them wrapped in `variables`.
      ...(request.variables ? { body: JSON.stringify({ variables: request.variables }) } : {}),
    });
  }

  snoop(request: SnoopRequest): Promise<AriChannel> {
    return this.#call('snoop', {
      channelId: request.channelId,
      snoopId: request.snoopId,
      spy: request.spy,
      whisper: request.whisper,
      app: this.app,
      appArgs: request.appArgs.join(','),
    });
  }

  createBridge(bridgeId: string, name: string): Promise<AriBridge> {
    return this.#call('createBridge', { bridgeId, type: 'mixing', name });
  }

  async addChannels(bridgeId: string, channelIds: string[]): Promise<void> {
    await this.#call('addChannels', { bridgeId, channel: channelIds.join(',') });
  }

  async removeChannels(bridgeId: string, channelIds: string[]): Promise<void> {
    await this.#call('removeChannels', { bridgeId, channel: channelIds.join(',') });
  }

  async destroyBridge(bridgeId: string): Promise<void> {
    await this.#call('destroyBridge', { bridgeId });
  }

  record(request: RecordRequest): Promise<AriLiveRecording> {
    const options = {
      name: request.name,
      format: request.format,
      // Evidence is never overwritten; a recording lasts as long as the call, silence included.
      ifExists: 'fail',
      maxDurationSeconds: 0,
      maxSilenceSeconds: 0,
      beep: false,
    };
    return request.target.kind === 'channel'
      ? this.#call('recordChannel', { channelId: request.target.id, ...options })
      : this.#call('recordBridge', { bridgeId: request.target.id, ...options });
  }

  async stopRecording(name: string): Promise<void> {
    await this.#call('stopRecording', { recordingName: name });
  }

  getChannel(channelId: string): Promise<AriChannel> {
    return this.#call('getChannel', { channelId });
  }

  async listApplicationChannelIds(): Promise<string[]> {
    const application = await this.#call<{ channel_ids?: string[] }>('getApplication', {
      applicationName: this.app,
    });
    return application.channel_ids ?? [];
  }

  listBridges(): Promise<AriBridge[]> {
    return this.#call('listBridges', {});
  }

  listEndpoints(): Promise<AriEndpoint[]> {
    return this.#call('listEndpoints', {});
  }

  async subscribe(eventSource: string): Promise<void> {
    await this.#call('subscribe', { applicationName: this.app, eventSource });
  }

  async startupTime(): Promise<string> {
    const info = await this.#call<{ status?: { startup_time?: string } }>('getInfo', { only: 'status' });
    const startup = info.status?.startup_time;
    if (!startup) throw new AriError('getInfo', 'asterisk', 200, 'no status.startup_time in the answer');
    return startup;
  }
}

function responseBody(response: SwaggerResponse): unknown {
  if (response.obj !== undefined) return response.obj;
  const text = response.data?.toString() ?? '';
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

const CODES_BY_STATUS: Record<number, AriErrorCode> = {
  400: 'invalid',
  404: 'not-found',
  409: 'not-in-stasis',
  412: 'precondition',
  422: 'not-in-stasis',
};

/** Where a status means something else for one operation than for the rest. */
const CODES_BY_OPERATION: Partial<Record<AriOperationName, Record<number, AriErrorCode>>> = {
  // "Channel with given unique ID already exists": an earlier originate of ours created it.
  originate: { 409: 'exists' },
};

function toAriError(operation: AriOperationName, response: SwaggerResponse): AriError {
  const status = response.status;
  const body = responseBody(response);
  const message =
    typeof body === 'object' && body !== null
      ? String(
          (body as { message?: unknown; error?: unknown }).message ?? (body as { error?: unknown }).error,
        )
      : String(body ?? '');
  // Status 0: no HTTP answer (connection refused, reset or dropped); the request may have landed.
  const code: AriErrorCode =
    status === 0
      ? 'no-reply'
      : (CODES_BY_OPERATION[operation]?.[status] ?? CODES_BY_STATUS[status] ?? 'asterisk');
  return new AriError(operation, code, status || undefined, `${status} ${message}`.trim());
}

function withAriTimeout<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
  code: AriErrorCode = 'unavailable',
): Promise<T> {
  return withTimeout(promise, ms, () => new AriError(what, code, undefined, `no answer within ${ms} ms`));
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
