import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { parseRetryMinutes } from './callbacks/callback-policy.ts';

/** Everything siaga112 reads from its environment, parsed once and frozen. */
export interface Config {
  readonly instanceId: string;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  readonly http: {
    readonly host: string;
    readonly port: number;
    /** Which reverse proxies' `X-Forwarded-For` to believe: none, a hop count, or their addresses. */
    readonly trustProxy: false | number | readonly string[];
  };
  readonly ari: {
    readonly url: string;
    readonly username: string;
    readonly password: string;
    readonly app: string;
    readonly requestTimeoutMs: number;
  };
  /** AMI for softphone presence (ContactStatus); null: ARI endpoint state only. */
  readonly ami: {
    readonly host: string;
    readonly port: number;
    readonly username: string;
    readonly secret: string;
  } | null;
  /** Operator trunks (PJSIP endpoint names) whose qualify is watched over AMI; empty: none. */
  readonly trunks: readonly string[];
  readonly databaseUrl: string;
  readonly redis: { readonly url: string; readonly keyPrefix: string };
  readonly calls: {
    readonly greetingMedia: readonly string[];
    readonly mohClass: string;
    readonly ringTimeoutSeconds: number;
    readonly wrapUpSeconds: number;
    readonly announcement: {
      readonly media: readonly string[];
      readonly intervalSeconds: number;
      readonly withPosition: boolean;
    };
    readonly overflow: { readonly target: string | null; readonly afterSeconds: number };
    /**
     * Where a caller in Stasis goes when siaga112 cannot queue it (Redis away): the dialplan's
     * fallback, which rings every call taker's phone.
     */
    readonly fallback: { readonly context: string; readonly extension: string; readonly priority: number };
    /** Agencies a call taker can dial into a call (conference, hand-over). */
    readonly agencies: readonly Agency[];
    readonly agencyRingSeconds: number;
    readonly ivr: {
      readonly warningMedia: readonly string[];
      readonly challengeMedia: readonly string[];
      readonly challengeWindowSeconds: number;
      readonly silentPromptMedia: readonly string[];
      readonly silenceWindowSeconds: number;
      readonly silentReleaseSeconds: number;
    };
  };
  /** Calling back callers who hung up before a person answered (issue #5). */
  readonly callbacks: {
    /** How long the caller's phone rings for a callback. */
    readonly ringSeconds: number;
    /** Waits before each retry after an attempt that did not reach the caller; its length caps retries. */
    readonly retryDelaysMs: readonly number[];
  };
  /** Personal data: caller numbers older than `retentionDays` (0: never) are pseudonymized. */
  readonly privacy: { readonly retentionDays: number; readonly pseudonymKey: string | null };
  readonly distribution: {
    readonly agingSeconds: number;
    readonly skillFallbackSeconds: number;
    readonly leaderLeaseMs: number;
  };
  /** A graceful stop that has not finished by then (Redis or Postgres unreachable) is cut off. */
  readonly shutdownTimeoutSeconds: number;
  /** Call recording (issue #11). */
  readonly recordings: {
    /** Every answered call is recorded. */
    readonly enabled: boolean;
    /** Asterisk's recording directory (absolute): where it writes the files. */
    readonly dir: string;
    /** Where finished files are moved (absolute); null: they stay in `dir`. */
    readonly storeDir: string | null;
    /** Recordings of calls older than this are deleted unless on legal hold (0: kept for ever). */
    readonly retentionDays: number;
  };
}

/** An agency of the directory: police 110, fire 113, ambulance 118/119, SAR 115, PLN 123… */
export interface Agency {
  readonly id: string;
  readonly name: string;
  /** Asterisk dial string through a trunk, e.g. `PJSIP/110@telkomsel`. */
  readonly dial: string;
}

const DEFAULT_AGENCIES =
  'police|Polisi 110|PJSIP/110@telkomsel;fire|Pemadam Kebakaran 113|PJSIP/113@telkomsel;' +
  'ambulance|Ambulans 118|PJSIP/118@telkomsel;ambulance-119|Ambulans 119|PJSIP/119@telkomsel;' +
  'sar|Basarnas 115|PJSIP/115@telkomsel;pln|PLN 123|PJSIP/123@telkomsel';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Env = Readonly<Record<string, string | undefined>>;

/** One documented variable: the README's configuration table lists exactly these. */
interface Variable<T> {
  readonly name: string;
  readonly fallback?: string;
  readonly expected: string;
  readonly parse: (raw: string) => T | undefined;
  /** Never echoed in an error message (passwords, URLs with credentials). */
  readonly secret?: boolean;
}

const text = (name: string, fallback?: string): Variable<string> => ({
  name,
  ...(fallback === undefined ? {} : { fallback }),
  expected: 'a non-empty value',
  parse: (raw) => (raw.trim() === '' ? undefined : raw.trim()),
});

const integer = (name: string, fallback: number, min: number, max: number): Variable<number> => ({
  name,
  fallback: String(fallback),
  expected: `a whole number from ${min} to ${max}`,
  parse: (raw) => {
    if (!/^\d+$/.test(raw.trim())) return undefined;
    const value = Number(raw);
    return value >= min && value <= max ? value : undefined;
  },
});

const url = (name: string, protocols: readonly string[], fallback?: string): Variable<string> => ({
  name,
  ...(fallback === undefined ? {} : { fallback }),
  expected: `a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`,
  parse: (raw) => {
    try {
      return protocols.includes(new URL(raw.trim()).protocol) ? raw.trim().replace(/\/+$/, '') : undefined;
    } catch {
      return undefined;
    }
  },
});

const AGENCY_ID = /^[a-z0-9-]{1,32}$/;
const DIAL_STRING = /^(PJSIP|SIP|IAX2|DAHDI|Local)\/[A-Za-z0-9_.@+*#-]{1,120}$/;
const agencyDirectory = (name: string, fallback: string): Variable<Agency[]> => ({
  name,
  fallback,
  expected:
    'entries `id|name|dial string` separated by `;` (ids a-z, 0-9, -; e.g. police|Polisi 110|PJSIP/110@telkomsel)',
  parse: (raw) => {
    const agencies: Agency[] = [];
    for (const entry of raw
      .split(';')
      .map((e) => e.trim())
      .filter((e) => e !== '')) {
      const [id, agencyName, dial, ...rest] = entry.split('|').map((f) => f.trim());
      if (rest.length > 0 || !id || !AGENCY_ID.test(id) || !agencyName || !dial || !DIAL_STRING.test(dial))
        return undefined;
      if (agencies.some((a) => a.id === id)) return undefined;
      agencies.push({ id, name: agencyName, dial });
    }
    return agencies.length > 0 ? agencies : undefined;
  },
});

const optionalSecret = (name: string): Variable<string | null> => ({
  name,
  fallback: 'none',
  expected: 'at least 16 characters, or none',
  parse: (raw) => (raw.trim() === 'none' ? null : raw.trim().length >= 16 ? raw.trim() : undefined),
});

const oneOf = <T extends string>(name: string, values: readonly T[], fallback: T): Variable<T> => ({
  name,
  fallback,
  expected: `one of ${values.join(', ')}`,
  parse: (raw) => values.find((v) => v === raw.trim()),
});

const list = (name: string, fallback: string): Variable<string[]> => ({
  name,
  fallback,
  expected: 'a comma-separated list of media URIs such as sound:siaga112/greeting',
  parse: (raw) => {
    const items = raw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    return items.length > 0 && items.every((s) => /^[a-z]+:\S+$/.test(s)) ? items : undefined;
  },
});

const flag = (name: string, fallback: boolean): Variable<boolean> => ({
  name,
  fallback: String(fallback),
  expected: 'true or false',
  parse: (raw) => ({ true: true, false: false })[raw.trim() as 'true' | 'false'],
});

/** An endpoint to dial (`PJSIP/0401123112@provincial`), or `none`. */
const dialTarget = (name: string): Variable<string | null> => ({
  name,
  fallback: 'none',
  expected: 'none, or an endpoint such as PJSIP/0401123112@provincial',
  parse: (raw) => {
    const value = raw.trim();
    if (value === 'none') return null;
    return /^[A-Za-z][A-Za-z0-9]*\/[^\s,]+$/.test(value) ? value : undefined;
  },
});

/** A dialplan location, `context,exten,priority` as in `Goto()`. */
const dialplanLocation = (
  name: string,
  fallback: string,
): Variable<{ context: string; extension: string; priority: number }> => ({
  name,
  fallback,
  expected: 'context,extension,priority, such as fallback,s,1',
  parse: (raw) => {
    const parts = raw.split(',').map((p) => p.trim());
    if (parts.length !== 3 || !parts.slice(0, 2).every((p) => /^[A-Za-z0-9_+*#.-]{1,79}$/.test(p)))
      return undefined;
    if (!/^[1-9]\d{0,5}$/.test(parts[2] ?? '')) return undefined;
    return { context: parts[0] ?? '', extension: parts[1] ?? '', priority: Number(parts[2]) };
  },
});

/**
 * Proxies whose `X-Forwarded-For` is believed: `none`, a hop count (`1`: the nearest one), or their
 * addresses (`10.0.0.5,192.168.0.0/16`). Never "all": a client could then pick any address and
 * escape the limit on failed logins.
 */
const trustedProxies = (name: string): Variable<false | number | string[]> => ({
  name,
  fallback: 'none',
  expected: 'none, a hop count from 1 to 10, or comma-separated IP addresses or CIDR ranges',
  parse: (raw) => {
    const value = raw.trim();
    if (value === 'none') return false;
    if (/^\d+$/.test(value)) return Number(value) >= 1 && Number(value) <= 10 ? Number(value) : undefined;
    const entries = value.split(',').map((e) => e.trim());
    const valid = entries.every((entry) => {
      const [address = '', bits, ...rest] = entry.split('/');
      const family = isIP(address);
      if (family === 0 || rest.length > 0) return false;
      return bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
    });
    return valid ? entries : undefined;
  },
});

/** An absolute directory path (`none` allowed when `optional`). */
const directory = (name: string, fallback: string, optional = false): Variable<string | null> => ({
  name,
  fallback,
  expected: `${optional ? 'none, or ' : ''}an absolute directory path such as /var/spool/asterisk/recording`,
  parse: (raw) => {
    const value = raw.trim().replace(/(.)\/+$/, '$1');
    if (optional && value === 'none') return null;
    return value.startsWith('/') && !value.split('/').includes('..') ? value : undefined;
  },
});

type AmiTarget = { host: string; port: number; username: string; secret: string };

/** `ami://user:secret@host:5038`, or `none`. */
const amiUrl = (name: string): Variable<AmiTarget | null> => ({
  name,
  fallback: 'none',
  expected: 'none, or a URL such as ami://siaga112:secret@127.0.0.1:5038',
  parse: (raw) => {
    const value = raw.trim();
    if (value === 'none') return null;
    try {
      const url = new URL(value);
      if (url.protocol !== 'ami:' || !url.hostname || !url.username || !url.password) return undefined;
      return {
        host: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port ? Number(url.port) : 5038,
        username: decodeURIComponent(url.username),
        secret: decodeURIComponent(url.password),
      };
    } catch {
      return undefined;
    }
  },
});

/** PJSIP endpoint names (`telkomsel,indosat`), or `none`. */
const endpointNames = (name: string): Variable<string[]> => ({
  name,
  fallback: 'none',
  expected: 'none, or comma-separated PJSIP endpoint names such as telkomsel,indosat,xl,smartfren',
  parse: (raw) => {
    if (raw.trim() === 'none') return [];
    const names = raw.split(',').map((n) => n.trim());
    const valid =
      names.every((n) => /^[A-Za-z0-9_.+-]{1,64}$/.test(n)) && new Set(names).size === names.length;
    return valid ? names : undefined;
  },
});

function read<T>(env: Env, variable: Variable<T>): T {
  const raw = env[variable.name];
  const source = raw === undefined || raw === '' ? variable.fallback : raw;
  if (source === undefined) {
    throw new ConfigError(`${variable.name} is required: expected ${variable.expected}`);
  }
  const value = variable.parse(source);
  if (value === undefined) {
    throw new ConfigError(
      `${variable.name} is invalid: expected ${variable.expected}, got ${variable.secret ? 'a value not shown here (it may hold a secret)' : JSON.stringify(source)}`,
    );
  }
  return value;
}

/** The variables in the order the README documents them. */
export const variables = {
  instanceId: text('SIAGA_INSTANCE_ID', `${hostname()}-${process.pid}`),
  logLevel: oneOf(
    'LOG_LEVEL',
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const,
    'info',
  ),
  httpHost: text('HTTP_HOST', '127.0.0.1'),
  httpPort: integer('HTTP_PORT', 3112, 0, 65535),
  trustProxy: trustedProxies('TRUST_PROXY'),
  ariUrl: url('ARI_URL', ['http:', 'https:'], 'http://127.0.0.1:8088'),
  ariUsername: text('ARI_USERNAME'),
  ariPassword: { ...text('ARI_PASSWORD'), secret: true },
  ariApp: text('ARI_APP', 'siaga112'),
  ariRequestTimeoutMs: integer('ARI_REQUEST_TIMEOUT_MS', 3000, 100, 60000),
  amiUrl: { ...amiUrl('AMI_URL'), secret: true },
  trunks: endpointNames('TRUNKS'),
  databaseUrl: { ...url('DATABASE_URL', ['postgres:', 'postgresql:']), secret: true },
  redisUrl: url('REDIS_URL', ['redis:', 'rediss:'], 'redis://127.0.0.1:6379'),
  redisKeyPrefix: text('REDIS_KEY_PREFIX', 'siaga112'),
  greetingMedia: list('GREETING_MEDIA', 'sound:siaga112/greeting'),
  mohClass: text('MOH_CLASS', 'default'),
  ringTimeoutSeconds: integer('RING_TIMEOUT_SECONDS', 15, 1, 120),
  wrapUpSeconds: integer('WRAP_UP_SECONDS', 10, 0, 600),
  agingSeconds: integer('QUEUE_AGING_SECONDS', 60, 0, 3600),
  skillFallbackSeconds: integer('SKILL_FALLBACK_SECONDS', 20, 0, 600),
  announceMedia: list('ANNOUNCE_MEDIA', 'sound:siaga112/please-hold'),
  announceIntervalSeconds: integer('ANNOUNCE_INTERVAL_SECONDS', 30, 0, 600),
  announcePosition: flag('ANNOUNCE_POSITION', false),
  overflowTarget: dialTarget('OVERFLOW_TARGET'),
  overflowAfterSeconds: integer('OVERFLOW_AFTER_SECONDS', 120, 1, 3600),
  fallbackContext: dialplanLocation('FALLBACK_CONTEXT', 'fallback,s,1'),
  leaderLeaseMs: integer('LEADER_LEASE_MS', 3000, 500, 60000),
  shutdownTimeoutSeconds: integer('SHUTDOWN_TIMEOUT_SECONDS', 15, 1, 600),
  warningMedia: list('WARNING_MEDIA', 'sound:siaga112/misuse-warning'),
  challengeMedia: list('CHALLENGE_MEDIA', 'sound:siaga112/press-5-twice'),
  challengeWindowSeconds: integer('CHALLENGE_WINDOW_SECONDS', 10, 3, 120),
  silentPromptMedia: list('SILENT_PROMPT_MEDIA', 'sound:siaga112/silent-press-5'),
  silenceWindowSeconds: integer('SILENCE_WINDOW_SECONDS', 8, 0, 120),
  silentReleaseSeconds: integer('SILENT_RELEASE_SECONDS', 60, 1, 3600),
  retentionDays: integer('RETENTION_DAYS', 365, 0, 3650),
  pseudonymKey: { ...optionalSecret('PSEUDONYM_KEY'), secret: true },
  agencies: agencyDirectory('AGENCIES', DEFAULT_AGENCIES),
  agencyRingSeconds: integer('AGENCY_RING_SECONDS', 30, 1, 120),
  recordCalls: flag('RECORD_CALLS', true),
  recordingsDir: directory('RECORDINGS_DIR', '/var/spool/asterisk/recording'),
  recordingsStoreDir: directory('RECORDINGS_STORE_DIR', 'none', true),
  recordingRetentionDays: integer('RECORDING_RETENTION_DAYS', 90, 0, 3650),
} as const;

// --- callbacks (issue #5) ---
/** Minutes before each callback retry, e.g. `2,5,15` (decimals allowed), or `none`. */
const retryMinutes = (name: string, fallback: string): Variable<number[]> => ({
  name,
  fallback,
  expected: 'none, or comma-separated minutes greater than 0 such as 2,5,15 (decimals allowed)',
  parse: (raw) => parseRetryMinutes(raw),
});
const callbackVariables = {
  callbackRingSeconds: integer('CALLBACK_RING_SECONDS', 30, 5, 120),
  callbackRetryMinutes: retryMinutes('CALLBACK_RETRY_MINUTES', '2,5,15'),
} as const;
// --- end callbacks ---

/** Parses the environment once; throws a ConfigError naming the first bad variable. */
export function loadConfig(env: Env = process.env): Config {
  const v = variables;
  const config: Config = {
    instanceId: read(env, v.instanceId),
    logLevel: read(env, v.logLevel),
    http: { host: read(env, v.httpHost), port: read(env, v.httpPort), trustProxy: read(env, v.trustProxy) },
    ari: {
      url: read(env, v.ariUrl),
      username: read(env, v.ariUsername),
      password: read(env, v.ariPassword),
      app: read(env, v.ariApp),
      requestTimeoutMs: read(env, v.ariRequestTimeoutMs),
    },
    ami: read(env, v.amiUrl),
    trunks: read(env, v.trunks),
    databaseUrl: read(env, v.databaseUrl),
    redis: { url: read(env, v.redisUrl), keyPrefix: read(env, v.redisKeyPrefix) },
    calls: {
      greetingMedia: read(env, v.greetingMedia),
      mohClass: read(env, v.mohClass),
      ringTimeoutSeconds: read(env, v.ringTimeoutSeconds),
      wrapUpSeconds: read(env, v.wrapUpSeconds),
      announcement: {
        media: read(env, v.announceMedia),
        intervalSeconds: read(env, v.announceIntervalSeconds),
        withPosition: read(env, v.announcePosition),
      },
      overflow: { target: read(env, v.overflowTarget), afterSeconds: read(env, v.overflowAfterSeconds) },
      fallback: read(env, v.fallbackContext),
      agencies: read(env, v.agencies),
      agencyRingSeconds: read(env, v.agencyRingSeconds),
      ivr: {
        warningMedia: read(env, v.warningMedia),
        challengeMedia: read(env, v.challengeMedia),
        challengeWindowSeconds: read(env, v.challengeWindowSeconds),
        silentPromptMedia: read(env, v.silentPromptMedia),
        silenceWindowSeconds: read(env, v.silenceWindowSeconds),
        silentReleaseSeconds: read(env, v.silentReleaseSeconds),
      },
    },
    callbacks: {
      ringSeconds: read(env, callbackVariables.callbackRingSeconds),
      retryDelaysMs: read(env, callbackVariables.callbackRetryMinutes),
    },
    privacy: { retentionDays: read(env, v.retentionDays), pseudonymKey: read(env, v.pseudonymKey) },
    distribution: {
      agingSeconds: read(env, v.agingSeconds),
      skillFallbackSeconds: read(env, v.skillFallbackSeconds),
      leaderLeaseMs: read(env, v.leaderLeaseMs),
    },
    shutdownTimeoutSeconds: read(env, v.shutdownTimeoutSeconds),
    recordings: {
      enabled: read(env, v.recordCalls),
      dir: read(env, v.recordingsDir) as string,
      storeDir: read(env, v.recordingsStoreDir),
      retentionDays: read(env, v.recordingRetentionDays),
    },
  };
  if (config.recordings.storeDir === config.recordings.dir) {
    throw new ConfigError('RECORDINGS_STORE_DIR is RECORDINGS_DIR: name another directory, or none');
  }
  if (config.trunks.length > 0 && config.ami === null) {
    throw new ConfigError('TRUNKS is set but AMI_URL is none: trunks are watched over AMI');
  }
  return deepFreeze(config);
}

function deepFreeze<T extends object>(value: T): T {
  for (const child of Object.values(value)) {
    if (child !== null && typeof child === 'object') deepFreeze(child);
  }
  return Object.freeze(value);
}

/** For tools that only need the database (`npm run migrate`). */
export function loadDatabaseUrl(env: Env = process.env): string {
  return read(env, variables.databaseUrl);
}
