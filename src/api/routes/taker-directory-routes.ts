import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { CALL_CATEGORIES } from '../../queues/call-queue.ts';
import type { CallTaker, CallTakerInput } from '../../records/taker-repository.ts';
import { ApiProblem } from '../problem.ts';
import { InvalidRequest, problem } from '../schemas.ts';

/** The directory of call takers (admins keep it): who, which phone, which skills. */
export interface TakerDirectoryDeps {
  list(): Promise<CallTaker[]>;
  /** Stores the taker; `endpoint-taken` when another taker has that phone. */
  put(taker: CallTakerInput): Promise<CallTaker | 'endpoint-taken'>;
  /** Takes a deactivated taker out of distribution; false while they are on a call. */
  signOff(takerId: string): Promise<boolean>;
}

const Taker = Type.Object({
  id: Type.String(),
  name: Type.String(),
  endpoint: Type.String(),
  skills: Type.Array(Type.String()),
  active: Type.Boolean(),
});

export async function takerDirectoryRoutes(app: FastifyInstance, deps: TakerDirectoryDeps): Promise<void> {
  app.get('/takers', { schema: { response: { 200: Type.Array(Taker) } } }, async () => deps.list());

  /** Adds or edits a call taker: name, softphone endpoint, skills (call categories), active. */
  app.put<{
    Params: { takerId: string };
    Body: { name: string; endpoint: string; skills?: string[]; active?: boolean };
  }>(
    '/takers/:takerId',
    {
      schema: {
        params: Type.Object({ takerId: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' }) }),
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 100 }),
            endpoint: Type.String({
              pattern: '^PJSIP/[A-Za-z0-9_.-]{1,64}$',
              description: 'their softphone',
            }),
            skills: Type.Optional(
              Type.Array(Type.Union(CALL_CATEGORIES.map((c) => Type.Literal(c))), {
                maxItems: 10,
                uniqueItems: true,
              }),
            ),
            active: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Taker,
          400: InvalidRequest,
          409: problem('the phone belongs to another call taker, or a taker to deactivate is on a call'),
        },
      },
    },
    async (request) => {
      const { takerId } = request.params;
      const { name, endpoint, skills = [], active = true } = request.body;
      if (!active && !(await deps.signOff(takerId))) {
        throw new ApiProblem(409, 'taker-busy', `${takerId} is on a call: deactivate them after it`);
      }
      const stored = await deps.put({ id: takerId, name, endpoint, skills, active });
      if (stored === 'endpoint-taken') {
        throw new ApiProblem(
          409,
          'endpoint-taken',
          `body.endpoint: ${endpoint} belongs to another call taker`,
        );
      }
      return stored;
    },
  );
}
