import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { CallEvent, CallRecord } from '../../records/call-record.ts';
import type { ReportGrouping, ReportRow } from '../../records/call-reports.ts';
import {
  type CallFilter,
  type CallRow,
  CSV_COLUMNS,
  type Cursor,
  csvLine,
  decodeCursor,
  encodeCursor,
} from '../../records/call-search.ts';
import { normalizeCallerId } from '../../routing/caller-id.ts';
import { ApiProblem, timeRange } from '../problem.ts';
import {
  DateTime,
  InvalidRequest,
  Nullable,
  problem,
  ScreeningOutcomeSchema,
  textResponse,
} from '../schemas.ts';

/** What the record routes need: searches, one call's timeline, the export, reports. */
export interface RecordRoutesDeps {
  search(
    filter: CallFilter,
    page: { limit: number; after?: Cursor | undefined },
  ): Promise<{
    items: CallRow[];
    next: Cursor | null;
  }>;
  all(filter: CallFilter): AsyncGenerator<CallRow[]>;
  getCall(callId: string): Promise<CallRecord | undefined>;
  listCallEvents(callId: string): Promise<CallEvent[]>;
  report(range: { from: Date; to: Date }, by: ReportGrouping, timeZone: string): Promise<ReportRow[]>;
}

const CALLER_HISTORY_DAYS = 30;
/** A search or report covers at most this long (an export too: a year of records). */
const MAX_RANGE_DAYS = 366;

const Filter = {
  from: DateTime('first arrival (inclusive)'),
  to: DateTime('end of the range (exclusive)'),
  number: Type.Optional(Type.String({ maxLength: 40, description: 'caller number, any common form' })),
  disposition: Type.Optional(
    Type.Union(
      ['connected', 'abandoned', 'released', 'silent', 'overflowed', 'failed', 'lost'].map((d) =>
        Type.Literal(d),
      ),
    ),
  ),
  decision: Type.Optional(
    Type.Union(['connect', 'connect-low', 'challenge', 'warn-and-release'].map((d) => Type.Literal(d))),
  ),
  verdict: Type.Optional(
    Type.Union(['genuine', 'prank', 'silent', 'misdial', 'info', 'unknown'].map((v) => Type.Literal(v))),
  ),
  takerId: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' })),
  trunk: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,40}$' })),
};
type FilterQuery = {
  from: string;
  to: string;
  number?: string;
  disposition?: CallFilter['disposition'];
  decision?: CallFilter['decision'];
  verdict?: string;
  takerId?: string;
  trunk?: string;
};

/** One call as searches show it (`CallRow`). */
const CallRowSchema = Type.Object({
  id: Type.String(),
  arrivedAt: DateTime(),
  callerNumber: Nullable(Type.String({ description: 'E.164, when the caller ID is a usable number' })),
  callerIdRaw: Type.String({ description: 'the caller ID as delivered' }),
  callerIdKind: Type.String({ description: 'e164, anonymous, empty or invalid' }),
  trunk: Nullable(Type.String()),
  priority: Type.Integer({ description: '0 urgent, 1 normal, 2 low' }),
  disposition: Nullable(
    Type.String({ description: 'connected, abandoned, released, silent, overflowed, failed or lost' }),
  ),
  takerId: Nullable(Type.String()),
  waitMs: Nullable(Type.Integer()),
  talkMs: Nullable(Type.Integer()),
  decision: Nullable(Type.String({ description: "screening's decision" })),
  verdict: Nullable(
    Type.String({ description: 'genuine, prank, silent, misdial, info, or unknown (none given)' }),
  ),
  incidentCategory: Nullable(Type.String()),
});

/** A call's record (`CallRecord`): the latest snapshot of the call. */
const CallRecordSchema = Type.Object({
  id: Type.String(),
  version: Type.Integer(),
  callerChannelId: Type.String(),
  trunk: Nullable(Type.String()),
  callerIdRaw: Type.String(),
  callerNumber: Nullable(Type.String()),
  callerIdKind: Type.String(),
  priority: Type.Integer(),
  arrivedAt: DateTime(),
  answeredAt: Nullable(DateTime()),
  queuedAt: Nullable(DateTime()),
  offeredAt: Nullable(DateTime()),
  connectedAt: Nullable(DateTime()),
  endedAt: Nullable(DateTime()),
  disposition: Nullable(Type.String()),
  endedBy: Nullable(Type.String({ description: 'caller, taker or system' })),
  takerId: Nullable(Type.String()),
  waitMs: Nullable(Type.Integer({ description: 'arrival to a person answering (or to the end)' })),
  talkMs: Nullable(Type.Integer()),
  screening: Nullable(ScreeningOutcomeSchema),
});

/** One thing that happened to a call (`CallEvent`); `detail` depends on the type. */
const CallEventSchema = Type.Object({
  callId: Type.String(),
  seq: Type.Integer(),
  at: DateTime(),
  type: Type.String({ description: 'e.g. arrived, answered, queued, offered, connected, ended' }),
  state: Type.String({ description: "the call's state after the event" }),
  detail: Type.Object({}, { additionalProperties: true }),
});

/** One period or trunk of a report (`ReportRow`): shares are 0..1, times in seconds. */
const ReportRowSchema = Type.Object({
  group: Type.String({ description: "the period's start (local time, no offset), or the trunk" }),
  offered: Type.Integer(),
  answered: Type.Integer(),
  abandoned: Type.Integer(),
  releasedByScreening: Type.Integer(),
  prankShare: Type.Number(),
  silentShare: Type.Number(),
  averageAnswerSeconds: Nullable(Type.Number()),
  p90AnswerSeconds: Nullable(Type.Number()),
  serviceLevel15: Type.Number({ description: 'share answered within 15 s' }),
  serviceLevel20: Type.Number({ description: 'share answered within 20 s' }),
  talkSeconds: Type.Integer(),
  staffedSeconds: Nullable(Type.Integer({ description: "takers' logged-in time; null by trunk" })),
  occupancy: Nullable(
    Type.Number({ description: 'handling over handling or ready; null by trunk or nobody ready' }),
  ),
});

function toFilter(query: FilterQuery): CallFilter {
  const { from, to } = timeRange(query, { maxDays: MAX_RANGE_DAYS, in: 'querystring' });
  let number: string | undefined;
  if (query.number !== undefined) {
    const identity = normalizeCallerId(query.number);
    if (!identity.number)
      throw new ApiProblem(400, 'invalid-number', 'querystring.number: not a usable phone number');
    number = identity.number;
  }
  return {
    from,
    to,
    number,
    disposition: query.disposition,
    decision: query.decision,
    verdict: query.verdict,
    takerId: query.takerId,
    trunk: query.trunk,
  };
}

const rowJson = (row: CallRow) => ({ ...row, arrivedAt: row.arrivedAt.toISOString() });

export async function recordRoutes(app: FastifyInstance, deps: RecordRoutesDeps): Promise<void> {
  /** Call records, newest first, a page at a time (`cursor` from the previous page's `next`). */
  app.get<{ Querystring: FilterQuery & { limit?: number; cursor?: string } }>(
    '/calls',
    {
      schema: {
        querystring: Type.Object(
          {
            ...Filter,
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
            cursor: Type.Optional(Type.String({ maxLength: 200 })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object(
            {
              items: Type.Array(CallRowSchema),
              next: Nullable(Type.String({ description: "the next page's cursor; null on the last" })),
            },
            { description: 'calls, newest first' },
          ),
          400: InvalidRequest,
        },
      },
    },
    async (request) => {
      const filter = toFilter(request.query);
      const after = request.query.cursor === undefined ? undefined : decodeCursor(request.query.cursor);
      if (request.query.cursor !== undefined && !after) {
        throw new ApiProblem(400, 'invalid-cursor', 'querystring.cursor: not a cursor this API gave out');
      }
      const { items, next } = await deps.search(filter, { limit: request.query.limit ?? 50, after });
      return { items: items.map(rowJson), next: next ? encodeCursor(next) : null };
    },
  );

  /** One call's record and its whole timeline. */
  app.get<{ Params: { callId: string } }>(
    '/calls/:callId',
    {
      schema: {
        params: Type.Object({ callId: Type.String({ format: 'uuid' }) }),
        response: {
          200: Type.Object(
            { record: CallRecordSchema, events: Type.Array(CallEventSchema) },
            { description: 'the record and its timeline, in order' },
          ),
          400: InvalidRequest,
          404: problem('no such call'),
        },
      },
    },
    async (request) => {
      const record = await deps.getCall(request.params.callId);
      if (!record) throw new ApiProblem(404, 'call-not-found', `no call ${request.params.callId}`);
      return { record, events: await deps.listCallEvents(record.id) };
    },
  );

  /** A caller's last 30 days: their calls, newest first, and the verdicts call takers gave. */
  app.get<{ Params: { number: string } }>(
    '/callers/:number/history',
    {
      schema: {
        params: Type.Object({ number: Type.String({ maxLength: 40, description: 'any common form' }) }),
        response: {
          200: Type.Object(
            {
              number: Type.String({ description: 'E.164' }),
              days: Type.Integer(),
              calls: Type.Array(CallRowSchema),
              verdicts: Type.Record(Type.String(), Type.Integer(), { description: 'calls per verdict' }),
            },
            { description: "the caller's calls of the last days, newest first" },
          ),
          400: InvalidRequest,
        },
      },
    },
    async (request) => {
      const number = normalizeCallerId(request.params.number).number;
      if (!number) throw new ApiProblem(400, 'invalid-number', 'params.number: not a usable phone number');
      const to = new Date(Date.now() + 60_000);
      const from = new Date(to.getTime() - CALLER_HISTORY_DAYS * 24 * 3600_000);
      const { items } = await deps.search({ from, to, number }, { limit: 200 });
      const verdicts: Record<string, number> = {};
      for (const call of items) if (call.verdict) verdicts[call.verdict] = (verdicts[call.verdict] ?? 0) + 1;
      return { number, days: CALLER_HISTORY_DAYS, calls: items.map(rowJson), verdicts };
    },
  );

  /** The same search as CSV, streamed page by page: a year of records never sits in memory. */
  app.get<{ Querystring: FilterQuery }>(
    '/exports/calls.csv',
    {
      schema: {
        querystring: Type.Object(Filter, { additionalProperties: false }),
        response: {
          200: textResponse(
            'text/csv',
            `RFC 4180, a header line then one line per call: ${CSV_COLUMNS.join(', ')}; streamed`,
          ),
          400: InvalidRequest,
        },
      },
    },
    async (request, reply) => {
      const filter = toFilter(request.query);
      reply.hijack();
      const out = reply.raw;
      out.writeHead(200, {
        'content-type': 'text/csv; charset=utf-8',
        'content-disposition': 'attachment; filename="siaga112-calls.csv"',
      });
      out.write(`${CSV_COLUMNS.join(',')}\r\n`);
      try {
        for await (const page of deps.all(filter)) {
          if (out.destroyed) return;
          // Respect backpressure: wait for the client before reading the next page.
          if (!out.write(page.map(csvLine).join(''))) {
            await new Promise<void>((resolve) => {
              // Whichever comes first removes the other: a long export must not pile up listeners.
              const done = () => {
                out.off('drain', done);
                out.off('close', done);
                resolve();
              };
              out.once('drain', done);
              out.once('close', done);
            });
          }
        }
        out.end();
      } catch (error) {
        request.log.error({ err: error }, 'CSV export failed midway');
        out.destroy(error instanceof Error ? error : new Error(String(error)));
      }
    },
  );

  /** Calls by hour, day or trunk: offered, answered, abandoned, released, prank and silent shares, answer times, service level. */
  app.get<{ Querystring: { from: string; to: string; by?: ReportGrouping; timeZone?: string } }>(
    '/reports/calls',
    {
      schema: {
        querystring: Type.Object(
          {
            from: Filter.from,
            to: Filter.to,
            by: Type.Optional(Type.Union([Type.Literal('hour'), Type.Literal('day'), Type.Literal('trunk')])),
            timeZone: Type.Optional(
              Type.String({
                pattern: '^[A-Za-z]+(/[A-Za-z_]+)*$',
                description: 'IANA time zone, default Asia/Jakarta',
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object(
            {
              from: DateTime(),
              to: DateTime(),
              by: Type.String({ description: 'hour, day or trunk' }),
              timeZone: Type.String(),
              rows: Type.Array(ReportRowSchema),
            },
            { description: 'one row per period (or trunk) with calls or takers logged in' },
          ),
          400: InvalidRequest,
        },
      },
    },
    async (request) => {
      const { from, to } = toFilter(request.query);
      const timeZone = request.query.timeZone ?? 'Asia/Jakarta';
      if (!Intl.supportedValuesOf('timeZone').includes(timeZone) && timeZone !== 'UTC') {
        throw new ApiProblem(400, 'invalid-time-zone', `querystring.timeZone: unknown time zone ${timeZone}`);
      }
      return {
        from,
        to,
        by: request.query.by ?? 'day',
        timeZone,
        rows: await deps.report({ from, to }, request.query.by ?? 'day', timeZone),
      };
    },
  );
}
