import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TakerState } from '../../queues/taker-state.ts';
import { ApiProblem } from '../problem.ts';
import { InvalidRequest, problem } from '../schemas.ts';

export interface DirectoryTaker {
  id: string;
  name: string;
  endpoint: string;
  skills: string[];
}

/** What the taker routes need: the directory of takers and their live presence. */
export interface TakerRoutesDeps {
  findTaker(takerId: string): Promise<DirectoryTaker | undefined>;
  setPresence(
    taker: DirectoryTaker,
    state: 'available' | 'break' | 'offline',
    reason: string | undefined,
  ): Promise<{ busy: boolean; previous: TakerState | null; state: TakerState }>;
  listPresence(): Promise<
    Array<{
      takerId: string;
      state: string;
      reason: string | null;
      callId: string | null;
      since: number;
      reachable: boolean;
    }>
  >;
}

const TakerParams = Type.Object({
  takerId: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$', description: 'the call taker id, e.g. taker1' }),
});
const StateBody = Type.Object(
  {
    state: Type.Union([Type.Literal('available'), Type.Literal('break'), Type.Literal('offline')]),
    reason: Type.Optional(
      Type.String({
        pattern: '^[a-z0-9][a-z0-9 _-]{0,39}$',
        description: 'why, for a break: e.g. meal, briefing',
      }),
    ),
  },
  { additionalProperties: false },
);
const StateReply = Type.Object({
  takerId: Type.String(),
  state: Type.String(),
  previous: Type.Union([Type.String(), Type.Null()]),
});
const PresenceList = Type.Array(
  Type.Object({
    takerId: Type.String(),
    state: Type.String(),
    reason: Type.Union([Type.String(), Type.Null()]),
    callId: Type.Union([Type.String(), Type.Null()]),
    since: Type.String({ format: 'date-time' }),
    reachable: Type.Boolean(),
  }),
);

export async function takerRoutes(app: FastifyInstance, deps: TakerRoutesDeps): Promise<void> {
  app.get('/takers/presence', { schema: { response: { 200: PresenceList } } }, async () =>
    (await deps.listPresence()).map((p) => ({ ...p, since: new Date(p.since).toISOString() })),
  );

  app.put<{
    Params: { takerId: string };
    Body: { state: 'available' | 'break' | 'offline'; reason?: string };
  }>(
    '/takers/:takerId/state',
    {
      schema: {
        params: TakerParams,
        body: StateBody,
        response: {
          200: StateReply,
          400: InvalidRequest,
          404: problem('no such call taker'),
          409: problem('the call taker is being offered a call or is on one; change state after it'),
        },
      },
    },
    async (request) => {
      const { state, reason } = request.body;
      if (reason !== undefined && state !== 'break') {
        throw new ApiProblem(400, 'invalid-request', 'body.reason: only a break has a reason');
      }
      const taker = await deps.findTaker(request.params.takerId);
      if (!taker) throw new ApiProblem(404, 'taker-not-found', `no call taker ${request.params.takerId}`);
      const result = await deps.setPresence(
        taker,
        state,
        state === 'break' ? (reason ?? 'break') : undefined,
      );
      if (result.busy) {
        throw new ApiProblem(
          409,
          'taker-busy',
          `call taker ${taker.id} is ${result.previous === 'reserved' ? 'being offered a call' : 'on a call'}; change state after it`,
        );
      }
      return { takerId: taker.id, state: result.state, previous: result.previous };
    },
  );
}
