import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { ApiProblem, ProblemSchema } from '../problem.ts';

/** What the taker routes need: the directory of takers and their live presence. */
export interface TakerRoutesDeps {
  findTaker(takerId: string): Promise<{ id: string; name: string; endpoint: string } | undefined>;
  setPresence(
    takerId: string,
    state: 'available' | 'offline',
    endpoint: string,
  ): Promise<{ previous: string | null; state: string }>;
  listPresence(): Promise<Array<{ takerId: string; state: string; callId: string | null; since: number }>>;
}

const TakerParams = Type.Object({
  takerId: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$', description: 'the call taker id, e.g. taker1' }),
});
const StateBody = Type.Object(
  { state: Type.Union([Type.Literal('available'), Type.Literal('offline')]) },
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
    callId: Type.Union([Type.String(), Type.Null()]),
    since: Type.String({ format: 'date-time' }),
  }),
);

export async function takerRoutes(app: FastifyInstance, deps: TakerRoutesDeps): Promise<void> {
  app.get('/takers/presence', { schema: { response: { 200: PresenceList } } }, async () =>
    (await deps.listPresence()).map((p) => ({ ...p, since: new Date(p.since).toISOString() })),
  );

  app.put<{ Params: { takerId: string }; Body: { state: 'available' | 'offline' } }>(
    '/takers/:takerId/state',
    {
      schema: {
        params: TakerParams,
        body: StateBody,
        response: { 200: StateReply, 400: ProblemSchema, 404: ProblemSchema },
      },
    },
    async (request) => {
      const taker = await deps.findTaker(request.params.takerId);
      if (!taker) throw new ApiProblem(404, 'taker-not-found', `no call taker ${request.params.takerId}`);
      const { previous, state } = await deps.setPresence(taker.id, request.body.state, taker.endpoint);
      return { takerId: taker.id, state, previous };
    },
  );
}
