/**
 * When does a call's final record become visible? A trigger in the benchmark's own database (never
 * in migrations) notifies on the row that first carries `ended_at`; PostgreSQL delivers a NOTIFY
 * at commit, so the time we receive it, minus `ended_at`, is the record lag. Also reads the
 * table statistics for rows written.
 */
import pg from 'pg';
import { epochNow } from './process-probe.ts';

const CHANNEL = 'bench_call_ended';

export interface CommittedRecord {
  /** The call's `ended_at`, epoch ms. */
  readonly endedAt: number;
  /** When the committed row was announced to us, epoch ms. */
  readonly seenAt: number;
}

export interface RowCounts {
  readonly callInserts: number;
  readonly callUpdates: number;
  readonly eventInserts: number;
}

export interface TimelineEntry {
  readonly channelId: string;
  readonly type: string;
  readonly at: number;
}

export interface RecordWatch {
  /** Caller channel id → its final record, once committed. */
  readonly committed: ReadonlyMap<string, CommittedRecord>;
  /**
   * Resolves once every channel has its record, or when none arrived for `idleMs` (or `timeoutMs`
   * passed); with the ones still missing.
   */
  waitFor(channelIds: readonly string[], idleMs: number, timeoutMs: number): Promise<string[]>;
  /** Rows written to calls and call_events so far (pg_stat_user_tables; about a second late). */
  rowCounts(): Promise<RowCounts>;
  /** Of these caller channels, those with no row in calls, or a row that never ended. */
  unrecorded(channelIds: readonly string[]): Promise<Map<string, 'no row' | 'not ended'>>;
  /** The `arrived`, `screened` and first `offered` events of these calls (ms resolution). */
  timeline(channelIds: readonly string[]): Promise<TimelineEntry[]>;
  close(): Promise<void>;
}

export async function watchRecords(databaseUrl: string): Promise<RecordWatch> {
  const client = new pg.Client({ connectionString: databaseUrl });
  client.on('error', () => {});
  await client.connect();
  await client.query(`
    create or replace function bench_call_ended() returns trigger language plpgsql as $$
    begin
      if new.ended_at is not null and (tg_op = 'INSERT' or old.ended_at is null) then
        perform pg_notify('${CHANNEL}',
          new.caller_channel_id || ' ' || (extract(epoch from new.ended_at) * 1000)::bigint);
      end if;
      return null;
    end $$;
    create trigger bench_call_ended after insert or update on calls
      for each row execute function bench_call_ended();
  `);
  const committed = new Map<string, CommittedRecord>();
  client.on('notification', (message) => {
    const seenAt = epochNow();
    const [channelId = '', endedAt = '0'] = (message.payload ?? '').split(' ');
    if (!committed.has(channelId)) committed.set(channelId, { endedAt: Number(endedAt), seenAt });
  });
  await client.query(`listen ${CHANNEL}`);

  // A second connection for queries, so a long one never delays a notification's timestamp.
  const queries = new pg.Client({ connectionString: databaseUrl });
  queries.on('error', () => {});
  await queries.connect();

  return {
    committed,
    async waitFor(channelIds, idleMs, timeoutMs) {
      const deadline = performance.now() + timeoutMs;
      let progressAt = performance.now();
      let missing = channelIds.filter((id) => !committed.has(id));
      while (missing.length > 0 && performance.now() < deadline && performance.now() - progressAt < idleMs) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        const still = missing.filter((id) => !committed.has(id));
        if (still.length < missing.length) progressAt = performance.now();
        missing = still;
      }
      return missing;
    },
    async rowCounts() {
      const { rows } = await queries.query<{ relname: string; n_tup_ins: string; n_tup_upd: string }>(
        `select relname, n_tup_ins, n_tup_upd from pg_stat_user_tables
          where relname in ('calls', 'call_events')`,
      );
      const of = (name: string) => rows.find((row) => row.relname === name);
      return {
        callInserts: Number(of('calls')?.n_tup_ins ?? 0),
        callUpdates: Number(of('calls')?.n_tup_upd ?? 0),
        eventInserts: Number(of('call_events')?.n_tup_ins ?? 0),
      };
    },
    async unrecorded(channelIds) {
      const { rows } = await queries.query<{ caller_channel_id: string; ended: boolean }>(
        'select caller_channel_id, ended_at is not null as ended from calls where caller_channel_id = any($1)',
        [channelIds],
      );
      const ended = new Map(rows.map((row) => [row.caller_channel_id, row.ended]));
      const missing = new Map<string, 'no row' | 'not ended'>();
      for (const id of channelIds) {
        const state = ended.get(id);
        if (state === undefined) missing.set(id, 'no row');
        else if (!state) missing.set(id, 'not ended');
      }
      return missing;
    },
    async timeline(channelIds) {
      const { rows } = await queries.query<{ caller_channel_id: string; type: string; at: Date }>(
        `select c.caller_channel_id, e.type, e.at from calls c
           join call_events e on e.call_id = c.id
          where c.caller_channel_id = any($1) and e.type in ('arrived', 'screened', 'offered')
          order by e.seq`,
        [channelIds],
      );
      return rows.map((row) => ({ channelId: row.caller_channel_id, type: row.type, at: row.at.getTime() }));
    },
    async close() {
      await client.end().catch(() => {});
      await queries.end().catch(() => {});
    },
  };
}
