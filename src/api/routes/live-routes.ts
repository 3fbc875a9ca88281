import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TakerPresence, WaitingCall } from '../../queues/call-queue.ts';
import type { SupervisorNotice } from '../../queues/supervisor-notices.ts';
import { eventStreams } from '../event-stream.ts';
import { InvalidRequest, textResponse } from '../schemas.ts';

/** What the live view needs: the queue and takers as Redis has them, and recent notices. */
export interface LiveRoutesDeps {
  waiting(): Promise<WaitingCall[]>;
  takers(): Promise<TakerPresence[]>;
  notices(limit: number): Promise<SupervisorNotice[]>;
  now(): number;
}

const PRIORITY_NAMES = ['urgent', 'normal', 'low'] as const;

const WaitingEntry = Type.Object({
  callId: Type.String(),
  priority: Type.Union(PRIORITY_NAMES.map((p) => Type.Literal(p))),
  category: Type.Union([Type.String(), Type.Null()]),
  waitingMs: Type.Integer(),
});
const LiveState = Type.Object({
  at: Type.String({ format: 'date-time' }),
  waiting: Type.Object({
    urgent: Type.Array(WaitingEntry),
    normal: Type.Array(WaitingEntry),
    low: Type.Array(WaitingEntry),
  }),
  longestWaitMs: Type.Integer(),
  takers: Type.Array(
    Type.Object({
      takerId: Type.String(),
      state: Type.String(),
      reason: Type.Union([Type.String(), Type.Null()]),
      callId: Type.Union([Type.String(), Type.Null()]),
      inStateMs: Type.Integer(),
      reachable: Type.Boolean(),
    }),
  ),
  takersByState: Type.Record(Type.String(), Type.Integer()),
});
const NoticesQuery = Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })) });
/** Notices are JSON kept in Redis, written by any instance (of any version): nothing is dropped. */
const Notice = Type.Object(
  {
    kind: Type.String({
      description:
        'ring-no-answer, softphone-unreachable, softphone-reachable, overflow, overflow-failed, ' +
        'trunk-unreachable or trunk-reachable (detail.trunk names the trunk)',
    }),
    at: Type.Number({ description: 'epoch milliseconds' }),
    takerId: Type.Optional(Type.String()),
    callId: Type.Optional(Type.String()),
    detail: Type.Optional(
      Type.Object({}, { additionalProperties: true, description: 'what the notice carries; by kind' }),
    ),
  },
  { additionalProperties: true },
);
const LiveStream = textResponse(
  'text/event-stream',
  'server-sent events: a `live` event (data as GET /live) at once and on every change; a comment every 15 s',
);

/** `GET /live`: the queue per priority with wait times and every taker's state, from Redis. */
export async function liveRoutes(app: FastifyInstance, deps: LiveRoutesDeps): Promise<void> {
  app.get('/live', { schema: { response: { 200: LiveState } } }, async () => liveState(deps));

  /**
   * The same state as server-sent events: a `live` event at once and whenever a call joins or
   * leaves the queue or a taker changes state (checked every second), so a wallboard needs no polling.
   */
  const openStream = eventStreams(app);
  app.get('/live/stream', { schema: { response: { 200: LiveStream } } }, async (request, reply) => {
    const stream = openStream(request, reply);
    let last = '';
    const push = async () => {
      try {
        const state = await liveState(deps);
        // What changed, not the clock: the waiting calls and each taker's state.
        const shape = JSON.stringify({
          waiting: Object.values(state.waiting).map((calls) => calls.map((call) => call.callId)),
          takers: state.takers.map((t) => [t.takerId, t.state, t.callId, t.reachable]),
        });
        if (shape === last) return;
        last = shape;
        stream.send('live', state);
      } catch (error) {
        request.log.warn({ err: error }, 'live stream: could not read the state');
      }
    };
    await push();
    const timer = setInterval(() => void push(), LIVE_STREAM_MS);
    timer.unref();
    stream.onEnd(() => clearInterval(timer));
  });

  app.get<{ Querystring: { limit?: number } }>(
    '/live/notices',
    {
      schema: {
        querystring: NoticesQuery,
        response: {
          200: Type.Array(Notice, { description: 'the latest notices, newest first' }),
          400: InvalidRequest,
        },
      },
    },
    async (request) => deps.notices(request.query.limit ?? 50),
  );
}

const LIVE_STREAM_MS = 1000;

/** The queue per priority with wait times and every taker's state, from Redis. */
async function liveState(deps: LiveRoutesDeps) {
  const [waiting, takers] = await Promise.all([deps.waiting(), deps.takers()]);
  const now = deps.now();
  const byPriority = { urgent: [], normal: [], low: [] } as Record<
    (typeof PRIORITY_NAMES)[number],
    Array<{
      callId: string;
      priority: (typeof PRIORITY_NAMES)[number];
      category: string | null;
      waitingMs: number;
    }>
  >;
  for (const call of waiting) {
    const priority = PRIORITY_NAMES[call.level];
    byPriority[priority].push({
      callId: call.callId,
      priority,
      category: call.category,
      waitingMs: Math.max(0, now - call.enqueuedAt),
    });
  }
  const takersByState: Record<string, number> = {};
  for (const t of takers) takersByState[t.state] = (takersByState[t.state] ?? 0) + 1;
  return {
    at: new Date(now).toISOString(),
    waiting: byPriority,
    longestWaitMs: Math.max(0, ...waiting.map((c) => now - c.enqueuedAt)),
    takers: takers.map((t) => ({
      takerId: t.takerId,
      state: t.state,
      reason: t.reason,
      callId: t.callId,
      inStateMs: Math.max(0, now - t.since),
      reachable: t.reachable,
    })),
    takersByState,
  };
}
