import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TakerPresence, WaitingCall } from '../../queues/call-queue.ts';
import type { SupervisorNotice } from '../../queues/supervisor-notices.ts';

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

/** `GET /live`: the queue per priority with wait times and every taker's state, from Redis. */
export async function liveRoutes(app: FastifyInstance, deps: LiveRoutesDeps): Promise<void> {
  app.get('/live', { schema: { response: { 200: LiveState } } }, async () => {
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
  });

  app.get<{ Querystring: { limit?: number } }>(
    '/live/notices',
    { schema: { querystring: NoticesQuery } },
    async (request) => deps.notices(request.query.limit ?? 50),
  );
}
