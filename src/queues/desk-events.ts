import type { Redis } from 'ioredis';

/**
 * What a call taker's desk is told about their calls, live: the screen pop when their phone rings
 * and every change that follows (connected, hold, agencies joining and leaving, the end). The
 * instance that controls calls publishes on Redis; every instance serves desks, so a taker's
 * browser may be connected to any of them.
 */
export interface DeskEvent {
  type:
    | 'offer'
    | 'connected'
    | 'held'
    | 'resumed'
    | 'agency-dialing'
    | 'agency-joined'
    | 'agency-failed'
    | 'agency-left'
    | 'handed-over'
    | 'ended';
  callId: string;
  /** Epoch ms (call time). */
  at: number;
  detail: Record<string, unknown>;
}

export type DeskListener = (takerId: string, event: DeskEvent) => void;

export class DeskEvents {
  readonly #redis: Redis;
  readonly #prefix: string;
  #subscriber: Redis | undefined;
  readonly #listeners = new Set<DeskListener>();

  constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    this.#prefix = prefix;
  }

  async publish(takerId: string, event: DeskEvent): Promise<void> {
    await this.#redis.publish(`${this.#prefix}:desk:${takerId}`, JSON.stringify(event));
  }

  /** Listens for every taker's events (one pattern subscription per instance). */
  async listen(listener: DeskListener): Promise<() => void> {
    this.#listeners.add(listener);
    if (!this.#subscriber) {
      // A subscribed connection can do nothing else: it gets its own.
      const subscriber = this.#redis.duplicate();
      this.#subscriber = subscriber;
      const prefix = `${this.#prefix}:desk:`;
      subscriber.on('pmessage', (_pattern, channel: string, message: string) => {
        let event: DeskEvent;
        try {
          event = JSON.parse(message) as DeskEvent;
        } catch {
          return;
        }
        const takerId = channel.slice(prefix.length);
        for (const each of this.#listeners) each(takerId, event);
      });
      await subscriber.psubscribe(`${prefix}*`);
    }
    return () => this.#listeners.delete(listener);
  }

  close(): void {
    this.#subscriber?.disconnect();
    this.#subscriber = undefined;
    this.#listeners.clear();
  }
}
