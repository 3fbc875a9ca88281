import type { AriEndpoint } from '../ari/ari-models.ts';
import type { AriPort } from '../ari/ari-port.ts';
import type { Logger } from '../logger.ts';
import type { CallQueue } from '../queues/call-queue.ts';
import type { SupervisorNotice } from '../queues/supervisor-notices.ts';

/** A second opinion on reachability, e.g. AMI `ContactStatus` (see src/ami/). */
export interface ReachabilitySource {
  onReachability(
    listener: (endpoint: string, reachable: boolean, detail: { status: string }) => void,
  ): () => void;
  listReachability(): Promise<Map<string, boolean>>;
}

export interface SoftphonePresenceOptions {
  ari: AriPort;
  queue: CallQueue;
  logger: Logger;
  notify(notice: SupervisorNotice): void;
  /** A taker came back into rotation. */
  requestDispatch(): void;
  sources?: readonly ReachabilitySource[];
  now?: () => number;
}

/** What an endpoint's ARI state says about reachability; `unknown` says nothing. */
export function reachabilityOf(endpoint: Pick<AriEndpoint, 'state'>): boolean | null {
  if (endpoint.state === 'online') return true;
  if (endpoint.state === 'offline') return false;
  return null;
}

/**
 * Keeps call takers' softphones in or out of rotation: a phone that is not registered is never
 * offered a call. Fed by ARI endpoint state (`EndpointStateChange`, and `GET /endpoints` on every
 * connect) and by any other source (AMI `ContactStatus`); the latest word wins.
 */
export class SoftphonePresence {
  readonly #options: SoftphonePresenceOptions;
  readonly #unsubscribe: Array<() => void> = [];
  /**
   * What we last recorded per endpoint. Asterisk publishes an endpoint's state with every channel
   * it gains or loses, so most reports repeat what we know; only changes go to Redis.
   */
  readonly #known = new Map<string, boolean>();

  constructor(options: SoftphonePresenceOptions) {
    this.#options = options;
  }

  start(): void {
    const { ari, sources = [] } = this.#options;
    this.#unsubscribe.push(
      ari.onEvent((event) => {
        if (event.type !== 'EndpointStateChange') return;
        const reachable = reachabilityOf(event.endpoint);
        if (reachable !== null)
          void this.apply(endpointName(event.endpoint), reachable, `ari:${event.endpoint.state}`);
      }),
      ari.onConnectionChange((state) => {
        if (state === 'connected') void this.#resync();
      }),
      ...sources.map((source) =>
        source.onReachability((endpoint, reachable, detail) => {
          if (this.#options.ari.connected) void this.apply(endpoint, reachable, `ami:${detail.status}`);
        }),
      ),
    );
  }

  stop(): void {
    for (const off of this.#unsubscribe.splice(0)) off();
  }

  /** Records what a source said about `endpoint` and tells supervisors when a taker moved. */
  async apply(endpoint: string, reachable: boolean, source: string): Promise<void> {
    const { queue, logger, notify, requestDispatch } = this.#options;
    if (this.#known.get(endpoint) === reachable) return;
    this.#known.set(endpoint, reachable);
    try {
      const moved = await queue.setReachable(endpoint, reachable);
      if (!moved) {
        // Not (yet) a taker's phone: ask again next time, a taker may log in on it meanwhile.
        this.#known.delete(endpoint);
        return;
      }
      if (moved.previous === moved.state) return;
      const at = (this.#options.now ?? Date.now)();
      if (!reachable) {
        logger.warn(
          { takerId: moved.takerId, endpoint, source },
          'call taker softphone unreachable; out of rotation',
        );
        notify({ kind: 'softphone-unreachable', at, takerId: moved.takerId, detail: { endpoint, source } });
      } else {
        logger.info({ takerId: moved.takerId, endpoint, source }, 'call taker softphone reachable again');
        notify({ kind: 'softphone-reachable', at, takerId: moved.takerId, detail: { endpoint, source } });
        requestDispatch();
      }
    } catch (error) {
      this.#known.delete(endpoint);
      logger.error({ err: error, endpoint }, 'could not record softphone reachability');
    }
  }

  /** Events sent while we were not listening are lost: ask for the whole picture again. */
  async #resync(): Promise<void> {
    const { ari, logger, sources = [] } = this.#options;
    this.#known.clear();
    try {
      await ari.subscribe('endpoint:PJSIP');
      for (const endpoint of await ari.listEndpoints()) {
        if (endpoint.technology !== 'PJSIP') continue;
        const reachable = reachabilityOf(endpoint);
        if (reachable !== null) await this.apply(endpointName(endpoint), reachable, `ari:${endpoint.state}`);
      }
    } catch (error) {
      logger.error({ err: error }, 'could not read softphone presence from ARI');
    }
    for (const source of sources) {
      try {
        for (const [endpoint, reachable] of await source.listReachability()) {
          await this.apply(endpoint, reachable, 'ami:list');
        }
      } catch (error) {
        // The source lists again itself when it (re)connects and reports what changed.
        logger.warn({ err: error }, 'could not read softphone presence from a second source');
      }
    }
  }
}

function endpointName(endpoint: Pick<AriEndpoint, 'technology' | 'resource'>): string {
  return `${endpoint.technology}/${endpoint.resource}`;
}
