import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { MonitorCommand } from '../routing/call-monitor.ts';
import type { CommandRefusal, CallCommand as SessionCommand } from '../routing/call-session.ts';

/** A taker's command on their call, or a supervisor's monitoring of one. */
export type CallCommand = SessionCommand | MonitorCommand;

/** What became of a desk's command: done, refused (why), no such live call, or nobody answered. */
export type CommandResult = 'ok' | CommandRefusal | 'unknown-call' | 'unavailable';

interface CommandRequest {
  requestId: string;
  replyTo: string;
  callId: string;
  takerId: string;
  command: CallCommand;
}

export type CommandHandler = (
  callId: string,
  takerId: string,
  command: CallCommand,
) => Promise<CommandResult>;

/**
 * Carries a desk's command (hold, conference…) from whichever instance serves the desk to the
 * instance that controls calls, and its result back, over Redis pub/sub. Only the call-control
 * instance has the call; the others ignore the request.
 */
export class CallCommandBus {
  readonly #redis: Redis;
  readonly #channel: string;
  readonly #replyChannel: string;
  readonly #timeoutMs: number;
  readonly #pending = new Map<string, (result: CommandResult) => void>();
  #subscriber: Redis | undefined;
  #handler: CommandHandler | undefined;

  constructor(redis: Redis, options: { prefix: string; instanceId: string; timeoutMs?: number }) {
    this.#redis = redis;
    this.#channel = `${options.prefix}:call-commands`;
    this.#replyChannel = `${options.prefix}:call-command-replies:${options.instanceId}`;
    this.#timeoutMs = options.timeoutMs ?? 3000;
  }

  /** Subscribes; `handler` answers for the calls this instance has (undefined: none). */
  async start(handler: CommandHandler): Promise<void> {
    this.#handler = handler;
    // A subscribed connection can do nothing else: it gets its own.
    const subscriber = this.#redis.duplicate();
    this.#subscriber = subscriber;
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.#replyChannel) this.#onReply(message);
      else if (channel === this.#channel) void this.#onRequest(message);
    });
    await subscriber.subscribe(this.#channel, this.#replyChannel);
  }

  async request(callId: string, takerId: string, command: CallCommand): Promise<CommandResult> {
    const requestId = randomUUID();
    const request: CommandRequest = { requestId, replyTo: this.#replyChannel, callId, takerId, command };
    const result = new Promise<CommandResult>((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(requestId);
        resolve('unavailable');
      }, this.#timeoutMs);
      this.#pending.set(requestId, (value) => {
        clearTimeout(timer);
        this.#pending.delete(requestId);
        resolve(value);
      });
    });
    await this.#redis.publish(this.#channel, JSON.stringify(request));
    return result;
  }

  async #onRequest(message: string): Promise<void> {
    let request: CommandRequest;
    try {
      request = JSON.parse(message) as CommandRequest;
    } catch {
      return;
    }
    let result: CommandResult;
    try {
      result = (await this.#handler?.(request.callId, request.takerId, request.command)) ?? 'unknown-call';
    } catch {
      // An ARI or Redis failure midway: the desk hears "try again", and this process lives on.
      result = 'unavailable';
    }
    // Every instance hears every request; only the one that has the call answers.
    if (result === 'unknown-call') return;
    await this.#redis
      .publish(request.replyTo, JSON.stringify({ requestId: request.requestId, result }))
      .catch(() => undefined);
  }

  #onReply(message: string): void {
    try {
      const { requestId, result } = JSON.parse(message) as { requestId: string; result: CommandResult };
      this.#pending.get(requestId)?.(result);
    } catch {
      // Not ours.
    }
  }

  close(): void {
    this.#subscriber?.disconnect();
    for (const resolve of this.#pending.values()) resolve('unavailable');
    this.#pending.clear();
  }
}
