import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Agency } from '../../config.ts';
import type { CallCommand, CommandResult } from '../../queues/call-commands.ts';
import type { DeskEvent } from '../../queues/desk-events.ts';
import { eventStreams } from '../event-stream.ts';
import { ApiProblem } from '../problem.ts';
import { InvalidRequest, problem, textResponse } from '../schemas.ts';

/** What a call taker's desk needs: the live event stream, the agency directory, call controls. */
export interface DeskRoutesDeps {
  agencies: readonly Agency[];
  takerExists(takerId: string): Promise<boolean>;
  /** Calls `listener` with this taker's events until the returned function is called. */
  listen(takerId: string, listener: (event: DeskEvent) => void): Promise<() => void>;
  /** Whether the call is live anywhere (its snapshot is in Redis). */
  callIsLive(callId: string): Promise<boolean>;
  command(callId: string, takerId: string, command: CallCommand): Promise<CommandResult>;
}

const TakerId = Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$', description: 'the call taker' });
const CallParams = Type.Object({ callId: Type.String({ format: 'uuid', description: 'the call id' }) });
const Accepted = Type.Object(
  { callId: Type.String(), accepted: Type.Boolean() },
  { description: 'carried out by the instance that controls the call' },
);
const COMMAND_RESPONSES = {
  202: Accepted,
  400: problem('invalid request, or an agency not in the directory; `detail` names the field'),
  404: problem('no such live call'),
  409: problem('refused: not connected, not your call, already so, or no agency on the line'),
  503: problem('no instance controlling calls answered; try again'),
};
const AgencySchema = Type.Object({
  id: Type.String({ description: 'what `agencyId` of a conference names' }),
  name: Type.String(),
  dial: Type.String({ description: 'Asterisk dial string, e.g. PJSIP/110@telkomsel' }),
});

const REFUSALS: Record<Exclude<CommandResult, 'ok' | 'unknown-call' | 'unavailable'>, string> = {
  'not-connected': 'the call is not connected to a call taker now',
  'not-your-call': 'the call is connected to another call taker',
  already: 'nothing to do: the call is in that state already',
  'unknown-agency': 'body.agencyId: no such agency in the directory',
  'no-agency': 'no agency is on the line to hand the caller over to',
};

export async function deskRoutes(app: FastifyInstance, deps: DeskRoutesDeps): Promise<void> {
  const openStream = eventStreams(app);

  /** Sends a command to the instance that has the call; its answer, as HTTP. */
  async function carryOut(callId: string, actor: string, command: CallCommand) {
    if (!(await deps.callIsLive(callId)))
      throw new ApiProblem(404, 'call-not-found', `no live call ${callId}`);
    const result = await deps.command(callId, actor, command);
    switch (result) {
      case 'ok':
        return { callId, accepted: true };
      case 'unknown-call':
        throw new ApiProblem(404, 'call-not-found', `no live call ${callId}`);
      case 'unavailable':
        throw new ApiProblem(
          503,
          'call-control-unavailable',
          'no instance controlling calls answered; try again',
        );
      case 'unknown-agency':
        throw new ApiProblem(400, 'unknown-agency', REFUSALS[result]);
      default:
        throw new ApiProblem(409, result, REFUSALS[result]);
    }
  }

  app.get(
    '/agencies',
    { schema: { response: { 200: Type.Array(AgencySchema, { description: 'the agency directory' }) } } },
    async () => deps.agencies,
  );

  /**
   * The desk's live stream (server-sent events): the screen pop when the taker's phone rings, then
   * connected, held/resumed, agency-dialing/joined/failed/left, handed-over, ended.
   */
  app.get<{ Params: { takerId: string } }>(
    '/takers/:takerId/desk',
    {
      schema: {
        params: Type.Object({ takerId: TakerId }),
        response: {
          200: textResponse(
            'text/event-stream',
            'server-sent events: `ready` `{takerId}` at once, then one event per desk event, named by its ' +
              'type (offer, connected, held, resumed, agency-dialing, agency-joined, agency-failed, ' +
              'agency-left, handed-over, ended), data `{type, callId, at, detail}`; a comment every 15 s',
          ),
          400: InvalidRequest,
          404: problem('no such call taker'),
        },
      },
    },
    async (request, reply) => {
      const { takerId } = request.params;
      if (!(await deps.takerExists(takerId))) {
        throw new ApiProblem(404, 'taker-not-found', `no call taker ${takerId}`);
      }
      const stream = openStream(request, reply);
      stream.send('ready', { takerId });
      const stop = await deps.listen(takerId, (event) => stream.send(event.type, event));
      stream.onEnd(stop);
    },
  );

  /** A supervisor listens in on a live call, or whispers to its taker, from their own phone. */
  app.post<{
    Params: { callId: string };
    Body: { supervisorId: string; endpoint: string; mode: 'listen' | 'whisper' };
  }>(
    '/calls/:callId/monitor',
    {
      schema: {
        params: CallParams,
        body: Type.Object(
          {
            supervisorId: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$', description: 'who monitors' }),
            endpoint: Type.String({
              pattern: '^PJSIP/[A-Za-z0-9_.-]{1,64}$',
              description: "the supervisor's phone",
            }),
            mode: Type.Union([Type.Literal('listen'), Type.Literal('whisper')]),
          },
          { additionalProperties: false },
        ),
        response: COMMAND_RESPONSES,
      },
    },
    async (request, reply) => {
      const { callId } = request.params;
      const { supervisorId, endpoint, mode } = request.body;
      const accepted = await carryOut(callId, supervisorId, {
        kind: 'monitor',
        supervisorId,
        endpoint,
        mode,
      });
      return reply.status(202).send(accepted);
    },
  );

  const controls: Array<{
    path: string;
    body: ReturnType<typeof Type.Object>;
    toCommand: (body: never) => CallCommand;
  }> = [
    {
      path: 'hold',
      body: Type.Object({ takerId: TakerId }, { additionalProperties: false }),
      toCommand: () => ({ kind: 'hold' }),
    },
    {
      path: 'resume',
      body: Type.Object({ takerId: TakerId }, { additionalProperties: false }),
      toCommand: () => ({ kind: 'resume' }),
    },
    {
      path: 'conference',
      body: Type.Object(
        {
          takerId: TakerId,
          agencyId: Type.String({ pattern: '^[a-z0-9-]{1,32}$', description: 'an agency of GET /agencies' }),
          handOver: Type.Optional(
            Type.Boolean({ description: 'leave the call as soon as the agency answers' }),
          ),
        },
        { additionalProperties: false },
      ),
      toCommand: (body: { agencyId: string; handOver?: boolean }) => ({
        kind: 'conference',
        agencyId: body.agencyId,
        handOver: body.handOver ?? false,
      }),
    },
    {
      path: 'leave',
      body: Type.Object({ takerId: TakerId }, { additionalProperties: false }),
      toCommand: () => ({ kind: 'leave' }),
    },
  ];

  for (const control of controls) {
    app.post<{ Params: { callId: string }; Body: { takerId: string } & Record<string, unknown> }>(
      `/calls/:callId/${control.path}`,
      {
        schema: {
          params: CallParams,
          body: control.body,
          response: COMMAND_RESPONSES,
        },
      },
      async (request, reply) => {
        const { callId } = request.params;
        const command = control.toCommand(request.body as never);
        if (command.kind === 'conference' && !deps.agencies.some((a) => a.id === command.agencyId)) {
          throw new ApiProblem(400, 'unknown-agency', REFUSALS['unknown-agency']);
        }
        return reply.status(202).send(await carryOut(callId, request.body.takerId, command));
      },
    );
  }
}
