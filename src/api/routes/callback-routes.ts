import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { ClaimResult } from '../../callbacks/callback-dialer.ts';
import { CALLBACK_STATUSES, type CallbackStatus } from '../../callbacks/callback-policy.ts';
import type { Callback } from '../../records/callback-repository.ts';
import { ApiProblem } from '../problem.ts';
import { InvalidRequest, problem } from '../schemas.ts';

/** What the callback routes need: the supervisor's list and a taker's claim. */
export interface CallbackRoutesDeps {
  list(statuses: readonly CallbackStatus[], limit: number): Promise<Callback[]>;
  claim(callbackId: string, takerId: string): Promise<ClaimResult>;
}

const Status = Type.Union(CALLBACK_STATUSES.map((s) => Type.Literal(s)));
const ListQuery = Type.Object(
  {
    status: Type.Optional(
      Type.String({
        pattern: `^(${CALLBACK_STATUSES.join('|')})(,(${CALLBACK_STATUSES.join('|')}))*$`,
        description: 'comma-separated statuses, e.g. pending,scheduled (default: all)',
      }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
  },
  { additionalProperties: false },
);
const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);
const CallbackReply = Type.Object({
  id: Type.String(),
  callId: Type.String(),
  callerNumber: Type.String(),
  trunk: Nullable(Type.String()),
  status: Status,
  attempts: Type.Integer(),
  nextAttemptAt: Nullable(Type.String({ format: 'date-time' })),
  claimedBy: Nullable(Type.String()),
  lastOutcome: Nullable(Type.String()),
  createdAt: Type.String({ format: 'date-time' }),
});
const CallbackParams = Type.Object({
  callbackId: Type.String({ format: 'uuid', description: 'the callback id' }),
});
const ClaimBody = Type.Object(
  { takerId: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$', description: 'the call taker, e.g. taker1' }) },
  { additionalProperties: false },
);
const ClaimReply = Type.Object(
  { id: Type.String(), status: Status, takerId: Type.String(), attempt: Type.Integer() },
  { description: "claimed: the taker's phone rings, then the caller's" },
);

const toReply = (c: Callback) => ({
  id: c.id,
  callId: c.callId,
  callerNumber: c.callerNumber,
  trunk: c.trunk,
  status: c.status,
  attempts: c.attempts,
  nextAttemptAt: c.nextAttemptAt?.toISOString() ?? null,
  claimedBy: c.claimedBy,
  lastOutcome: c.lastOutcome,
  createdAt: c.createdAt.toISOString(),
});

export async function callbackRoutes(app: FastifyInstance, deps: CallbackRoutesDeps): Promise<void> {
  app.get<{ Querystring: { status?: string; limit?: number } }>(
    '/callbacks',
    {
      schema: {
        querystring: ListQuery,
        response: {
          200: Type.Array(CallbackReply, { description: 'callbacks, by status' }),
          400: InvalidRequest,
        },
      },
    },
    async (request) => {
      const statuses = (request.query.status ?? '').split(',').filter(Boolean) as CallbackStatus[];
      return (await deps.list(statuses, request.query.limit ?? 100)).map(toReply);
    },
  );

  app.post<{ Params: { callbackId: string }; Body: { takerId: string } }>(
    '/callbacks/:callbackId/claim',
    {
      schema: {
        params: CallbackParams,
        body: ClaimBody,
        response: {
          202: ClaimReply,
          400: InvalidRequest,
          404: problem('no such callback, or no such call taker'),
          409: problem('the callback is not pending, or the call taker is not available'),
        },
      },
    },
    async (request, reply) => {
      const { callbackId } = request.params;
      const { takerId } = request.body;
      const result = await deps.claim(callbackId, takerId);
      switch (result.kind) {
        case 'not-found':
          throw new ApiProblem(404, 'callback-not-found', `params.callbackId: no callback ${callbackId}`);
        case 'taker-not-found':
          throw new ApiProblem(404, 'taker-not-found', `body.takerId: no call taker ${takerId}`);
        case 'not-pending':
          throw new ApiProblem(
            409,
            'callback-not-pending',
            `params.callbackId: callback ${callbackId} is ${result.status}, not pending`,
          );
        case 'taker-busy':
          throw new ApiProblem(
            409,
            'taker-not-available',
            `body.takerId: call taker ${takerId} is ${result.state ?? 'offline'}; only an available taker can claim a callback (112 calls come first)`,
          );
        case 'claimed':
          return reply
            .status(202)
            .send({ id: result.callback.id, status: 'claimed', takerId, attempt: result.attempt });
      }
    },
  );
}
