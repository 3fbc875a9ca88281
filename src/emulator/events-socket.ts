/**
 * The events WebSocket (`/ari/events?app=a,b`): which connection holds which Stasis app. As in
 * Asterisk's app_update, a newer connection for an app replaces the older one (which is told with
 * ApplicationReplaced and gets nothing more for that app). A closed connection unregisters its apps;
 * their channels stay in Stasis and their events are dropped until an app connects again.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';

export interface EventsHubOptions {
  /** The JSON of an ApplicationReplaced event for `app`. */
  replacedEvent: (app: string) => string;
}

export class EventsHub {
  readonly #wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  readonly #apps = new Map<string, WebSocket>();
  readonly #sockets = new Set<WebSocket>();
  readonly #replacedEvent: (app: string) => string;

  constructor(options: EventsHubOptions) {
    this.#replacedEvent = options.replacedEvent;
  }

  /** Completes the upgrade and registers `apps` to the new connection. */
  accept(request: IncomingMessage, socket: Duplex, head: Buffer, apps: string[]): void {
    this.#wss.handleUpgrade(request, socket, head, (ws) => {
      this.#sockets.add(ws);
      for (const app of apps) {
        const previous = this.#apps.get(app);
        this.#apps.set(app, ws);
        if (previous && previous !== ws && previous.readyState === WebSocket.OPEN) {
          previous.send(this.#replacedEvent(app));
        }
      }
      ws.on('close', () => this.#forget(ws));
      ws.on('error', () => this.#forget(ws));
    });
  }

  #forget(ws: WebSocket): void {
    this.#sockets.delete(ws);
    for (const [app, holder] of this.#apps) if (holder === ws) this.#apps.delete(app);
  }

  isRegistered(app: string): boolean {
    const ws = this.#apps.get(app);
    return ws !== undefined && ws.readyState === WebSocket.OPEN;
  }

  registeredApps(): string[] {
    return [...this.#apps.keys()].filter((app) => this.isRegistered(app));
  }

  /**
   * Sends to the connection holding `app`; false (event dropped) when there is none. A Buffer goes
   * as a binary frame (only the test hook sends one).
   */
  send(app: string, json: string | Buffer): boolean {
    const ws = this.#apps.get(app);
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(json);
    return true;
  }

  /** Kills every connection without a close handshake, like a network drop. */
  dropAll(): void {
    for (const ws of [...this.#sockets]) {
      this.#forget(ws);
      ws.terminate();
    }
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
  }
}
