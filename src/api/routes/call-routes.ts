import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import {
  INCIDENT_CATEGORIES,
  type IncidentCategory,
  VERDICTS,
  type Verdict,
} from '../../records/call-record.ts';
import { ApiProblem } from '../problem.ts';
import { InvalidRequest, problem } from '../schemas.ts';

/** What the call routes need: the records and the screening history a verdict feeds. */
export interface CallRoutesDeps {
  setVerdict(
    callId: string,
    verdict: Verdict,
    takerId: string,
    filed: {
      note?: string | undefined;
      incidentCategory?: IncidentCategory | undefined;
      onlyIfTakenBy?: string | undefined;
    },
  ): Promise<{ answered: boolean; callerNumber: string | null; refused?: boolean } | undefined>;
  /** Feeds the caller's screening history at once (the next call of that number sees it). */
  recordVerdict(callerNumber: string, callId: string, verdict: Verdict): Promise<void>;
}

const CallParams = Type.Object({ callId: Type.String({ format: 'uuid', description: 'the call id' }) });
const VerdictBody = Type.Object(
  {
    verdict: Type.Union(VERDICTS.map((v) => Type.Literal(v))),
    takerId: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$', description: 'who gives the verdict' }),
    note: Type.Optional(Type.String({ maxLength: 2000, description: "the call taker's note" })),
    incidentCategory: Type.Optional(
      Type.Union(
        INCIDENT_CATEGORIES.map((c) => Type.Literal(c)),
        { description: 'what the emergency was about' },
      ),
    ),
  },
  { additionalProperties: false },
);
const VerdictReply = Type.Object(
  { callId: Type.String(), verdict: Type.String() },
  { description: 'stored' },
);

export async function callRoutes(app: FastifyInstance, deps: CallRoutesDeps): Promise<void> {
  /** A call taker's verdict on an answered call: genuine, prank, silent, misdial or info. */
  app.put<{
    Params: { callId: string };
    Body: { verdict: Verdict; takerId: string; note?: string; incidentCategory?: IncidentCategory };
  }>(
    '/calls/:callId/verdict',
    {
      schema: {
        params: CallParams,
        body: VerdictBody,
        response: {
          200: VerdictReply,
          400: InvalidRequest,
          403: problem("a call another taker answered (a call taker's key), or a role without this route"),
          404: problem('no such call'),
          409: problem('the call was not answered by a call taker'),
        },
      },
    },
    async (request) => {
      const { callId } = request.params;
      const { verdict, takerId, note, incidentCategory } = request.body;
      // A call taker judges the calls they answered; supervisors may judge any.
      const onlyIfTakenBy = request.principal?.role === 'call-taker' ? takerId : undefined;
      const result = await deps.setVerdict(callId, verdict, takerId, {
        note,
        incidentCategory,
        onlyIfTakenBy,
      });
      if (!result) throw new ApiProblem(404, 'call-not-found', `no call ${callId}`);
      if (result.refused) {
        throw new ApiProblem(403, 'not-your-call', `call ${callId} was answered by another call taker`);
      }
      if (!result.answered) {
        throw new ApiProblem(409, 'call-not-answered', `call ${callId} was not answered by a call taker`);
      }
      if (result.callerNumber) {
        // The verdict is stored; the history is a cache Postgres can rebuild, so a Redis hiccup
        // here is logged, not an error for the taker.
        await deps.recordVerdict(result.callerNumber, callId, verdict).catch((error: unknown) => {
          request.log.warn({ err: error, callId }, 'could not feed the verdict to caller history');
        });
      }
      return { callId, verdict };
    },
  );
}
