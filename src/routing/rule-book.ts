import type { Redis } from 'ioredis';
import type { Logger } from '../logger.ts';
import type { RuleSetRepository } from '../records/rule-set-repository.ts';
import { DEFAULT_RULES, type ScreeningRules } from './screening.ts';

/**
 * The screening rules in force in this instance. Loaded from Postgres at start; an activation
 * anywhere is announced on `<prefix>:rules` and every instance reloads within a moment, so calls
 * arriving after it are screened by the new set. Until a set is activated: the defaults.
 */
export class RuleBook {
  readonly #repository: Pick<RuleSetRepository, 'active'>;
  readonly #subscriber: Redis;
  readonly #channel: string;
  readonly #logger: Logger;
  #rules: ScreeningRules = DEFAULT_RULES;
  #version: number | null = null;
  readonly #schemaReady: Promise<void>;

  constructor(options: {
    repository: Pick<RuleSetRepository, 'active'>;
    redis: Redis;
    prefix: string;
    logger: Logger;
    /** Resolves once the rule-set table exists (the service migrates while it starts). */
    schemaReady?: Promise<void>;
  }) {
    this.#repository = options.repository;
    this.#schemaReady = options.schemaReady ?? Promise.resolve();
    // A subscribed connection can do nothing else: it gets its own.
    this.#subscriber = options.redis.duplicate();
    this.#channel = RuleBook.channel(options.prefix);
    this.#logger = options.logger;
  }

  static channel(prefix: string): string {
    return `${prefix}:rules`;
  }

  get current(): ScreeningRules {
    return this.#rules;
  }

  get version(): number | null {
    return this.#version;
  }

  async start(): Promise<void> {
    this.#subscriber.on('message', (channel) => {
      if (channel === this.#channel) void this.reload();
    });
    // Re-subscribed by ioredis after a reconnect; reload then too, an announcement may be lost.
    this.#subscriber.on('ready', () => void this.reload());
    await this.#subscriber.subscribe(this.#channel);
  }

  async reload(): Promise<void> {
    await this.#schemaReady;
    try {
      const active = await this.#repository.active();
      if (!active || active.version === this.#version) return;
      this.#rules = {
        ...DEFAULT_RULES,
        ...active.rules,
        weights: { ...DEFAULT_RULES.weights, ...active.rules.weights },
      };
      this.#version = active.version;
      this.#logger.info({ version: active.version }, 'screening rules in force');
    } catch (error) {
      this.#logger.warn({ err: error }, 'could not load the screening rules; keeping the ones in force');
    }
  }

  close(): void {
    this.#subscriber.disconnect();
  }
}

/** One setting a candidate rule set changes: its path (`weights.prank24h`) and both values. */
export interface RuleChange {
  field: string;
  inForce: unknown;
  candidate: unknown;
}

/** What a candidate changes against the rules in force, setting by setting, in the schema's order. */
export function ruleChanges(inForce: object, candidate: object, prefix = ''): RuleChange[] {
  const keys = [...new Set([...Object.keys(inForce), ...Object.keys(candidate)])];
  return keys.flatMap((key) => {
    const before = (inForce as Record<string, unknown>)[key];
    const after = (candidate as Record<string, unknown>)[key];
    const field = `${prefix}${key}`;
    const isObject = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
    if (isObject(before) && isObject(after))
      return ruleChanges(before as object, after as object, `${field}.`);
    return JSON.stringify(before) === JSON.stringify(after)
      ? []
      : [{ field, inForce: before ?? null, candidate: after ?? null }];
  });
}
