import { readFile } from 'node:fs/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Principal } from '../../auth/api-keys.ts';
import { sessionCookie, sessionToken, type WallboardSessions } from '../../auth/wallboard-sessions.ts';
import { isTimeZone, type LocalDay, localDay } from '../../local-day.ts';
import type { TakerPresence, WaitingCall } from '../../queues/call-queue.ts';
import { CALL_CLASSES, DECISIONS, type WallboardSummary } from '../../records/wallboard-summary.ts';
import { eventStreams } from '../event-stream.ts';
import { ApiProblem } from '../problem.ts';
import { DateTime, InvalidRequest, Nullable, textResponse } from '../schemas.ts';

/** What the wallboard needs: the live queue and takers (Redis), the day's records (Postgres), sessions. */
export interface WallboardRoutesDeps {
  waiting(): Promise<WaitingCall[]>;
  takers(): Promise<TakerPresence[]>;
  summary(day: LocalDay, timeZone: string): Promise<WallboardSummary>;
  sessions: WallboardSessions;
  /** Whether an API key is still unrevoked. */
  keyActive(keyId: string): Promise<boolean>;
  /** The calls' clock (fast in a replay), epoch ms. */
  now(): number;
  /** Clock ms per real ms: the page moves ages on between pushes at this rate. */
  clockRate: number;
}

/** How often the stream pushes the live view (ages move on) and looks for new figures (real ms). */
const LIVE_MS = 1000;
const SUMMARY_MS = 2000;
/** One summary serves every wallboard of this instance for this long (real ms). */
const SUMMARY_CACHE_MS = 1000;
const DEFAULT_TIME_ZONE = 'Asia/Jakarta';
const PRIORITIES = ['urgent', 'normal', 'low'] as const;
/** The page and its assets, beside this file's folder (copied to dist by `npm run build`). */
const ASSETS = new URL('../wallboard/', import.meta.url);
const ASSET_TYPES = {
  'wallboard.html': 'text/html; charset=utf-8',
  'wallboard.js': 'text/javascript; charset=utf-8',
  'wallboard.css': 'text/css; charset=utf-8',
} as const;
/** The page runs only its own script and style and talks only to this server. */
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

const TimeZoneQuery = Type.Object(
  {
    timeZone: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z]+(/[A-Za-z_]+)*$',
        description: `IANA time zone of "today", default ${DEFAULT_TIME_ZONE}`,
      }),
    ),
  },
  { additionalProperties: false },
);
const Counts = (names: readonly string[], description: string) =>
  Type.Object(Object.fromEntries(names.map((name) => [name, Type.Integer()])), { description });
const SummarySchema = Type.Object({
  day: Type.String({ description: 'YYYY-MM-DD in the time zone' }),
  timeZone: Type.String(),
  from: DateTime('local midnight'),
  to: DateTime('the next local midnight'),
  figures: Type.Object({
    offered: Type.Integer(),
    answered: Type.Integer({ description: 'a call taker answered' }),
    abandoned: Type.Integer(),
    released: Type.Integer({ description: 'released by screening' }),
    prank: Type.Integer({ description: 'judged prank' }),
    silent: Type.Integer({ description: 'judged silent, or released as an unconfirmed silent call' }),
    serviceLevel15: Nullable(Type.Number({ description: 'share of offered calls answered within 15 s' })),
    averageAnswerSeconds: Nullable(Type.Number()),
    p90AnswerSeconds: Nullable(Type.Number()),
  }),
  hours: Type.Array(
    Type.Object({
      hour: Type.Integer({ minimum: 0, maximum: 23 }),
      calls: Counts(CALL_CLASSES, 'calls that arrived in this local hour, by verdict'),
    }),
    { description: 'hour 0 to 23' },
  ),
  decisions: Counts(DECISIONS, "screening's decisions of the day"),
  recent: Type.Array(
    Type.Object({
      callId: Type.String(),
      arrivedAt: DateTime(),
      caller: Type.String({ description: 'masked number, or the kind of caller ID' }),
      trunk: Nullable(Type.String()),
      decision: Type.String(),
      score: Nullable(Type.Number()),
      reasons: Type.Array(Type.String()),
      disposition: Nullable(Type.String()),
      verdict: Nullable(Type.String()),
    }),
    { description: 'the latest screened calls, newest first' },
  ),
  takerNames: Type.Record(Type.String(), Type.String(), { description: "call takers' names by id" }),
});
const SessionReply = Type.Object(
  { expiresAt: DateTime('when the session ends (it also ends when the key is revoked)') },
  { description: 'a session cookie (HttpOnly, SameSite=Strict, Path=/wallboard) is set' },
);

/**
 * The supervisor wallboard: `GET /wallboard` (the page, its script and style), a session for the
 * browser (`POST /wallboard/session` with a key, `DELETE` to sign out), the day's figures
 * (`GET /wallboard/summary`) and the stream that keeps the page current (`GET /wallboard/stream`).
 */
export async function wallboardRoutes(app: FastifyInstance, deps: WallboardRoutesDeps): Promise<void> {
  const assets = await Promise.all(
    Object.entries(ASSET_TYPES).map(async ([name, type]) => ({
      name,
      type,
      body: await readFile(new URL(name, ASSETS)),
    })),
  );
  for (const asset of assets) {
    const url = asset.name === 'wallboard.html' ? '/wallboard' : `/wallboard/${asset.name}`;
    app.get(url, { schema: { hide: true } }, async (_request, reply) =>
      reply.headers(PAGE_HEADERS).type(asset.type).send(asset.body),
    );
  }

  app.post('/wallboard/session', { schema: { response: { 200: SessionReply } } }, async (request, reply) => {
    const { token, expiresAt } = await deps.sessions.open(request.principal as Principal);
    const cookie = sessionCookie(
      { token, maxAgeMs: expiresAt.getTime() - Date.now() },
      request.protocol === 'https',
    );
    return reply.header('set-cookie', cookie).header('cache-control', 'no-store').send({ expiresAt });
  });

  app.delete(
    '/wallboard/session',
    { schema: { response: { 204: { description: 'signed out: the session ended, the cookie removed' } } } },
    async (request, reply) => {
      const token = sessionToken(request.headers.cookie);
      if (token) await deps.sessions.end(token);
      return reply
        .header('set-cookie', sessionCookie(null, request.protocol === 'https'))
        .status(204)
        .send();
    },
  );

  const summaries = new Map<string, { at: number; summary: Promise<WallboardSummary> }>();
  const summaryOf = (timeZone: string): Promise<WallboardSummary> => {
    const cached = summaries.get(timeZone);
    if (cached && performance.now() - cached.at < SUMMARY_CACHE_MS) return cached.summary;
    const summary = deps.summary(localDay(deps.now(), timeZone), timeZone);
    summaries.set(timeZone, { at: performance.now(), summary });
    // A failed read is not kept: the next asks again.
    summary.catch(() => summaries.delete(timeZone));
    return summary;
  };

  app.get<{ Querystring: { timeZone?: string } }>(
    '/wallboard/summary',
    { schema: { querystring: TimeZoneQuery, response: { 200: SummarySchema, 400: InvalidRequest } } },
    async (request) => summaryOf(timeZoneOf(request)),
  );

  /**
   * Server-sent events: `live` (waiting calls by priority with their ages, call takers with their
   * state and time in it) at once and every second; `summary` (as GET /wallboard/summary) at once
   * and whenever the day's records change. The credentials are checked again every 2 s: a session
   * ended or a key revoked ends the stream.
   */
  const openStream = eventStreams(app);
  app.get<{ Querystring: { timeZone?: string } }>(
    '/wallboard/stream',
    {
      schema: {
        querystring: TimeZoneQuery,
        response: {
          200: textResponse(
            'text/event-stream',
            'server-sent events: `live` at once and every second, `summary` at once and on every change; a comment every 15 s',
          ),
          400: InvalidRequest,
        },
      },
    },
    async (request: FastifyRequest<{ Querystring: { timeZone?: string } }>, reply: FastifyReply) => {
      const timeZone = timeZoneOf(request);
      const principal = request.principal as Principal;
      // Signed in with the session cookie (no key header), or with a key.
      const token = request.headers.authorization ? undefined : sessionToken(request.headers.cookie);
      const signedIn = async () =>
        token ? (await deps.sessions.verify(token)) !== undefined : deps.keyActive(principal.keyId);
      const stream = openStream(request, reply);
      let lastSummary = '';
      const pushLive = async () => {
        try {
          stream.send('live', await liveView(deps));
        } catch (error) {
          request.log.warn({ err: error }, 'wallboard: could not read the live state');
        }
      };
      const pushSummary = async () => {
        try {
          if (!(await signedIn())) {
            stream.end();
            return;
          }
          const summary = JSON.stringify(await summaryOf(timeZone));
          if (summary === lastSummary) return;
          lastSummary = summary;
          stream.send('summary', JSON.parse(summary));
        } catch (error) {
          request.log.warn({ err: error }, 'wallboard: could not read the day from the records');
        }
      };
      await Promise.all([pushLive(), pushSummary()]);
      const live = setInterval(() => void pushLive(), LIVE_MS);
      const figures = setInterval(() => void pushSummary(), SUMMARY_MS);
      live.unref();
      figures.unref();
      stream.onEnd(() => {
        clearInterval(live);
        clearInterval(figures);
      });
    },
  );
}

function timeZoneOf(request: FastifyRequest<{ Querystring: { timeZone?: string } }>): string {
  const timeZone = request.query.timeZone ?? DEFAULT_TIME_ZONE;
  if (!isTimeZone(timeZone)) {
    throw new ApiProblem(400, 'invalid-time-zone', `querystring.timeZone: unknown time zone ${timeZone}`);
  }
  return timeZone;
}

/** The queue (most urgent first, then the longest waiting) and the call takers, as of the call clock. */
async function liveView(deps: WallboardRoutesDeps) {
  const [waiting, takers] = await Promise.all([deps.waiting(), deps.takers()]);
  const now = deps.now();
  return {
    at: new Date(now).toISOString(),
    rate: deps.clockRate,
    waiting: [...waiting]
      .sort((a, b) => a.level - b.level || a.enqueuedAt - b.enqueuedAt)
      .map((call) => ({
        callId: call.callId,
        priority: PRIORITIES[call.level] ?? 'low',
        category: call.category,
        waitingMs: Math.max(0, now - call.enqueuedAt),
      })),
    takers: [...takers]
      .sort((a, b) => a.takerId.localeCompare(b.takerId, 'en', { numeric: true }))
      .map((taker) => ({
        takerId: taker.takerId,
        state: taker.state,
        reason: taker.reason,
        inStateMs: Math.max(0, now - taker.since),
        reachable: taker.reachable,
      })),
  };
}
