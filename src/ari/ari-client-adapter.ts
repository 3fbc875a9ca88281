import ari, { type AriClient, type SwaggerResponse } from 'ari-client';
import WebSocket from 'ws';
import type { Logger } from '../logger.ts';
import { withTimeout } from '../with-timeout.ts';
import { parseAriMessage } from './ari-event-parser.ts';
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

/**
 * The AriPort on top of ari-client. ari-client loads Asterisk's Swagger description at connect
 * time and performs the REST calls; we invoke its loaded operations directly because its own
 * wrapper discards the HTTP status (we need 404 vs 409 vs 5xx as facts, not message text).
 * The events WebSocket is ours: ari-client's gives up after ten reconnects and throws on a
 * message it cannot parse, and an emergency service must do neither.
 */
export class AriClientAdapter implements AriPort {
  readonly app: string;
  #options: Required<AriClientAdapterOptions>;
  #client: AriClient | undefined;
  #socket: WebSocket | undefined;
  #eventListeners = new Set<AriListener>();
  #connectionListeners = new Set<(state: ConnectionState) => void>();
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
        this.#checkOperations(this.#client);
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

  #checkOperations(client: AriClient): void {
    for (const [name, op] of Object.entries(ARI_OPERATIONS)) {
      if (typeof client._swagger.apis[op.resource]?.[op.nickname] !== 'function') {
        throw new AriError(
          name,
          'asterisk',
          undefined,
          `this Asterisk has no ARI operation ${op.resource}.${op.nickname}`,
        );
      }
    }
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
      this.#options.logger.warn(
        { reason: parsed.reason, size: data.length },
        'ignoring malformed ARI message',
      );
      return;
    }
    if (parsed.kind === 'ignored') return;
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

  /** Runs one ARI operation through ari-client's loaded Swagger API, bounded in time. */
  #call<T>(name: AriOperationName, params: Record<string, unknown>): Promise<T> {
    const op = ARI_OPERATIONS[name];
    const client = this.#client;
    const operation = client?._swagger.apis[op.resource]?.[op.nickname];
    if (!this.#connected || typeof operation !== 'function') {
      return Promise.reject(new AriError(name, 'unavailable', undefined, 'not connected to Asterisk'));
    }
    const request = new Promise<T>((resolve, reject) => {
      const onResponse = (response: SwaggerResponse) => resolve(responseBody(response) as T);
      const onError = (response: SwaggerResponse) => reject(toAriError(name, response));
      (operation as (p: Record<string, unknown>, ok: typeof onResponse, fail: typeof onError) => void)(
        params,
        onResponse,
        onError,
      );
    });
    return withAriTimeout(request, this.#options.requestTimeoutMs, name);
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

function toAriError(operation: string, response: SwaggerResponse): AriError {
  const status = response.status;
  const body = responseBody(response);
  const message =
    typeof body === 'object' && body !== null
      ? String(
          (body as { message?: unknown; error?: unknown }).message ?? (body as { error?: unknown }).error,
        )
      : String(body ?? '');
  const code: AriErrorCode = status === 0 ? 'unavailable' : (CODES_BY_STATUS[status] ?? 'asterisk');
  return new AriError(operation, code, status || undefined, `${status} ${message}`.trim());
}

function withAriTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return withTimeout(
    promise,
    ms,
    () => new AriError(what, 'unavailable', undefined, `no answer within ${ms} ms`),
  );
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
