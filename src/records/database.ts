import { type ColumnType, type Generated, Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type {
  CallerIdKind,
  Disposition,
  IncidentCategory,
  ScreeningDecision,
  Verdict,
} from './call-record.ts';

/** A timestamp column: read as a Date, written as a Date. */
type Timestamp = ColumnType<Date, Date, Date>;
/** Set by the database on insert (`default now()`), written explicitly on update. */
type CreatedTimestamp = ColumnType<Date, never, never>;
type UpdatedTimestamp = ColumnType<Date, never, Date | string>;

/** One row per call: the latest snapshot of the call, only ever moved forward by `version`. */
export interface CallsTable {
  id: string;
  version: number;
  caller_channel_id: string;
  trunk: string | null;
  caller_id_raw: string;
  caller_number: string | null;
  caller_id_kind: CallerIdKind;
  priority: number;
  arrived_at: Timestamp;
  answered_at: Timestamp | null;
  queued_at: Timestamp | null;
  offered_at: Timestamp | null;
  connected_at: Timestamp | null;
  ended_at: Timestamp | null;
  disposition: Disposition | null;
  ended_by: 'caller' | 'taker' | 'system' | null;
  taker_id: string | null;
  wait_ms: number | null;
  talk_ms: number | null;
  screening_decision: ScreeningDecision | null;
  screening_score: number | null;
  /** Written as JSON text (see the repository), read back as the parsed array. */
  screening_reasons: ColumnType<string[] | null, string | null, string | null>;
  /** `unknown`: wrap-up ended without a verdict (then `verdict_auto`). */
  verdict: Verdict | 'unknown' | null;
  verdict_by: string | null;
  verdict_at: Timestamp | null;
  verdict_note: string | null;
  incident_category: IncidentCategory | null;
  verdict_auto: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: CreatedTimestamp;
  updated_at: UpdatedTimestamp;
}

/** One row per thing that happened to a call; (call_id, seq) makes a retried write land once. */
export interface CallEventsTable {
  call_id: string;
  seq: number;
  at: Timestamp;
  type: string;
  state: string;
  /** Written as JSON text (see the repository), read back as the parsed object. */
  detail: ColumnType<Record<string, unknown>, string, string>;
}

export interface CallTakersTable {
  id: string;
  name: string;
  endpoint: string;
  skills: ColumnType<string[], string[] | undefined, string[]>;
  active: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: CreatedTimestamp;
  updated_at: Generated<Date>;
}

/**
 * One row per call-taker state transition, copied from the Redis stream; `stream_id` (the
 * stream entry id) makes a redelivered entry land once. No foreign key: see the migration.
 */
export interface TakerEventsTable {
  stream_id: string;
  taker_id: string;
  /** Normally one of `TAKER_EVENT_STATES`; a state unknown to this version is kept as written. */
  state: string;
  previous_state: string | null;
  reason: string | null;
  call_id: string | null;
  at: Timestamp;
}

/** An allowlist or blocklist entry: one per E.164 number. */
export interface CallerListEntriesTable {
  number: string;
  list: 'allow' | 'block';
  reason: string;
  author: string;
  created_at: ColumnType<Date, Date | undefined, Date>;
  expires_at: Timestamp | null;
}

/** One version of the screening rules; the table is its own audit trail. */
export interface ScreeningRuleSetsTable {
  version: Generated<number>;
  /** Written as JSON text, read back parsed. */
  rules: ColumnType<unknown, string, never>;
  comment: string;
  created_by: string;
  created_at: ColumnType<Date, never, never>;
  activated_by: string | null;
  activated_at: Timestamp | null;
}

// --- callbacks (issue #5) ---
/** A callback owed to a caller who hung up before a person answered; see migration 0006. */
export interface CallbacksTable {
  id: string;
  call_id: string;
  caller_number: string;
  trunk: string | null;
  status: 'pending' | 'claimed' | 'dialing' | 'scheduled' | 'reached' | 'failed' | 'exhausted';
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: Timestamp | null;
  claimed_by: string | null;
  last_outcome: 'reached' | 'no-answer' | 'busy' | 'invalid' | 'error' | null;
  created_at: ColumnType<Date, Date | undefined, never>;
  updated_at: ColumnType<Date, Date | undefined, Date>;
}
// --- end callbacks ---

export interface Database {
  calls: CallsTable;
  call_events: CallEventsTable;
  call_takers: CallTakersTable;
  taker_events: TakerEventsTable;
  caller_list_entries: CallerListEntriesTable;
  screening_rule_sets: ScreeningRuleSetsTable;
  callbacks: CallbacksTable;
  api_keys: ApiKeysTable;
  audit_log: AuditLogTable;
  call_recordings: CallRecordingsTable;
  legal_holds: LegalHoldsTable;
}

// --- call recordings (issue #11) ---
/** One segment of a call's recording (1: the caller's leg from answer, 2: the bridge's mix); see migration 0009. */
export interface CallRecordingsTable {
  call_id: string;
  segment: number;
  kind: 'caller' | 'bridge';
  /** Asterisk's recording name: the file is `<name>.<format>` in its recording directory. */
  name: string;
  format: string;
  state: 'recording' | 'done' | 'failed';
  /** `spool`: still in Asterisk's recording directory; `store`: moved to RECORDINGS_STORE_DIR. */
  location: 'spool' | 'store' | null;
  file_name: string | null;
  started_at: Timestamp;
  ended_at: Timestamp | null;
  duration_ms: number | null;
  /** bigint: read back as a string by pg. */
  size_bytes: ColumnType<string | null, number | null, number | null>;
  sha256: string | null;
  failure: string | null;
  created_at: CreatedTimestamp;
  updated_at: UpdatedTimestamp;
}

/** A call an admin put on legal hold: its recordings outlive their retention. */
export interface LegalHoldsTable {
  call_id: string;
  reason: string;
  set_by: string;
  set_at: Timestamp;
}
// --- end call recordings ---

export type Role = 'admin' | 'supervisor' | 'call-taker' | 'metrics';

/** An API key: only its SHA-256 is stored; the key itself is shown once. */
export interface ApiKeysTable {
  id: string;
  name: string;
  role: Role;
  taker_id: string | null;
  key_hash: string;
  created_by: string;
  created_at: CreatedTimestamp;
  revoked_at: Timestamp | null;
}

/** Every write a person made through the API. */
export interface AuditLogTable {
  id: Generated<string>;
  at: CreatedTimestamp;
  key_id: string;
  actor: string;
  role: Role;
  method: string;
  route: string;
  url: string;
  status: number;
  body: ColumnType<unknown, string | null, string | null>;
}

export interface DatabaseOptions {
  /** Upper bound of pooled connections. */
  maxConnections: number;
  /** Shown in `pg_stat_activity`, so an operator can tell siaga112's sessions apart. */
  applicationName?: string;
  /** How long to wait for a connection before failing (a dead database must fail fast). */
  connectionTimeoutMs?: number;
  /** Server-side limit for one statement. */
  statementTimeoutMs?: number;
  /** Client-side limit for one query, for when the server can no longer even answer. */
  queryTimeoutMs?: number;
  /** Told about errors on idle pooled connections (the pool drops such a connection itself). */
  onIdleConnectionError?: (error: Error) => void;
}

export const DATABASE_DEFAULTS = {
  applicationName: 'siaga112',
  connectionTimeoutMs: 5_000,
  statementTimeoutMs: 10_000,
  queryTimeoutMs: 15_000,
} as const;

/**
 * A Kysely instance over a `pg` pool. Timeouts everywhere: when the database is away, callers
 * (the record worker above all) get an error within seconds and retry, instead of hanging.
 */
export function createDatabase(url: string, options: DatabaseOptions): Kysely<Database> {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.maxConnections,
    application_name: options.applicationName ?? DATABASE_DEFAULTS.applicationName,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? DATABASE_DEFAULTS.connectionTimeoutMs,
    statement_timeout: options.statementTimeoutMs ?? DATABASE_DEFAULTS.statementTimeoutMs,
    query_timeout: options.queryTimeoutMs ?? DATABASE_DEFAULTS.queryTimeoutMs,
    // A transaction left open by a vanished client must not hold row locks for long.
    idle_in_transaction_session_timeout:
      (options.statementTimeoutMs ?? DATABASE_DEFAULTS.statementTimeoutMs) * 3,
    idleTimeoutMillis: 30_000,
    // Notices a silently dropped peer (no RST) on otherwise idle connections.
    keepAlive: true,
  });
  // Without a listener, an error on an idle pooled connection (the database restarting, a
  // network cut) is an uncaught 'error' event that takes the whole process down.
  pool.on('error', (error) => options.onIdleConnectionError?.(error));
  // The pool listens for errors only on idle clients. A connection dropped while checked out
  // (Postgres restarting under a query) emits 'error' on its client too, and unheard that is
  // thrown and ends the process. The query in flight fails with the same error, and the pool
  // discards the broken client on release, so this listener has nothing left to do.
  pool.on('connect', (client) => client.on('error', () => {}));
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}
