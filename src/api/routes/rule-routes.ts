import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { RuleSetVersion } from '../../records/rule-set-repository.ts';
import type { BacktestResult } from '../../routing/backtest.ts';
import { ruleChanges } from '../../routing/rule-book.ts';
import type { ScreeningRules } from '../../routing/screening.ts';
import { ApiProblem, timeRange } from '../problem.ts';
import { DateTime, InvalidRequest, Nullable, problem, ScreeningOutcomeSchema } from '../schemas.ts';

export interface RuleRoutesDeps {
  create(rules: ScreeningRules, comment: string, by: string): Promise<RuleSetVersion>;
  /** Activates and announces it to every instance; false when there is no such version. */
  activate(version: number, by: string): Promise<boolean>;
  list(): Promise<RuleSetVersion[]>;
  /** What this instance screens with now. */
  inForce(): { version: number | null; rules: ScreeningRules };
  /** Screens the stored calls of [from, to) under the rules in force and the candidate. */
  backtest(candidate: ScreeningRules, from: Date, to: Date, limit: number): Promise<BacktestResult>;
}

/** A backtest reads every call of its range and the week before: bounded. */
const BACKTEST_MAX_DAYS = 31;

const count = (description: string) => Type.Integer({ minimum: 1, maximum: 1000, description });
const weight = Type.Number({ minimum: -100, maximum: 100 });
const media = (description: string) =>
  Type.Array(Type.String({ pattern: '^(sound|recording):[A-Za-z0-9_./-]{1,200}$' }), {
    minItems: 1,
    maxItems: 10,
    description: `${description} (Asterisk media URIs, played in order)`,
  });

/** The JSON schema every rule set must satisfy (also served at GET /rules/schema). */
export const ScreeningRulesSchema = Type.Object(
  {
    releaseAfterPranks24h: count('pranks judged in 24 h from which a caller is warned and released'),
    challengeAfterPranks7d: count('pranks judged in 7 days from which every call is challenged first'),
    lowAfterPranks7d: count('pranks judged in 7 days from which the priority is lowered'),
    lowAfterSilent7d: count('silent verdicts in 7 days from which the priority is lowered'),
    lowAfterIvrHangups24h: count('menu hang-ups in 24 h from which the priority is lowered'),
    releaseCooldownMs: Type.Integer({
      minimum: 60_000,
      maximum: 7 * 24 * 3600_000,
      description: 'a caller released within this window is challenged, never released again',
    }),
    weights: Type.Object(
      { prank24h: weight, prank7d: weight, silent7d: weight, ivrHangup24h: weight, genuine7d: weight },
      { additionalProperties: false },
    ),
    prompts: Type.Optional(
      Type.Object(
        {
          warning: Type.Optional(media('the misuse warning played before a release')),
          challenge: Type.Optional(media('the key-press challenge')),
          silent: Type.Optional(media('the prompt for a caller who cannot speak')),
        },
        { additionalProperties: false, description: 'left out: the prompts configured for the service' },
      ),
    ),
  },
  { additionalProperties: false },
);

const Author = Type.String({ minLength: 1, maxLength: 64 });
const Version = Type.Object({
  version: Type.Integer(),
  rules: ScreeningRulesSchema,
  comment: Type.String(),
  createdBy: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  activatedBy: Type.Union([Type.String(), Type.Null()]),
  activatedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

const Decisions = Type.Object(
  {
    connect: Type.Integer(),
    'connect-low': Type.Integer(),
    challenge: Type.Integer(),
    'warn-and-release': Type.Integer(),
  },
  { description: 'calls per decision' },
);
/** What `POST /rules/backtest` answers (`BacktestResult`, with the range and the version in force). */
const BacktestReply = Type.Object({
  from: DateTime(),
  to: DateTime(),
  inForceVersion: Nullable(Type.Integer({ description: 'null: the defaults are in force' })),
  calls: Type.Integer({ description: 'calls of the range screened' }),
  decisions: Type.Object({ inForce: Decisions, candidate: Decisions }),
  transitions: Type.Array(
    Type.Object({
      from: Type.String(),
      to: Type.String(),
      calls: Type.Integer(),
      byVerdict: Type.Record(Type.String(), Type.Integer(), {
        description: 'calls per later verdict, or none',
      }),
    }),
    { description: 'decisions that change, e.g. connect to challenge; most calls first' },
  ),
  genuineReleased: Type.Integer({ description: 'calls judged genuine the candidate would release' }),
  changes: Type.Array(
    Type.Object({
      callId: Type.String(),
      arrivedAt: DateTime(),
      callerNumber: Nullable(Type.String()),
      verdict: Nullable(Type.String()),
      inForce: ScreeningOutcomeSchema,
      candidate: ScreeningOutcomeSchema,
    }),
    { description: 'the changed calls, oldest first, at most `limit`' },
  ),
});

const toJson = (v: RuleSetVersion) => ({
  ...v,
  createdAt: v.createdAt.toISOString(),
  activatedAt: v.activatedAt?.toISOString() ?? null,
});

/** Screening rules as versioned data: propose, activate (every instance within a second), audit. */
export async function ruleRoutes(app: FastifyInstance, deps: RuleRoutesDeps): Promise<void> {
  app.get(
    '/rules/schema',
    {
      schema: {
        response: {
          200: Type.Object(
            {},
            { additionalProperties: true, description: 'the JSON Schema every rule set must satisfy' },
          ),
        },
      },
    },
    async () => ScreeningRulesSchema,
  );

  app.get(
    '/rules',
    { schema: { response: { 200: Type.Array(Version, { description: 'every version, newest first' }) } } },
    async () => (await deps.list()).map(toJson),
  );

  app.get(
    '/rules/in-force',
    {
      schema: {
        response: {
          200: Type.Object(
            {
              version: Nullable(Type.Integer({ description: 'null: no set was activated, the defaults' })),
              rules: ScreeningRulesSchema,
            },
            { description: 'what this instance screens with now' },
          ),
        },
      },
    },
    async () => deps.inForce(),
  );

  /** Checks a candidate without storing it, and says what it would change against the rules in force. */
  app.post<{ Body: { rules: ScreeningRules } }>(
    '/rules/validate',
    {
      schema: {
        body: Type.Object({ rules: ScreeningRulesSchema }, { additionalProperties: false }),
        response: {
          200: Type.Object({
            valid: Type.Literal(true, { description: 'an invalid set is a 400 naming the field' }),
            inForceVersion: Nullable(Type.Integer({ description: 'null: the defaults are in force' })),
            changes: Type.Array(
              Type.Object({
                field: Type.String({ description: 'e.g. weights.prank24h' }),
                inForce: Type.Unknown(),
                candidate: Type.Unknown(),
              }),
              { description: 'the settings the candidate changes; empty: the same as in force' },
            ),
          }),
          400: InvalidRequest,
        },
      },
    },
    async (request) => {
      const inForce = deps.inForce();
      return {
        valid: true as const,
        inForceVersion: inForce.version,
        changes: ruleChanges(inForce.rules, request.body.rules),
      };
    },
  );

  app.post<{ Body: { rules: ScreeningRules; comment: string; author: string } }>(
    '/rules',
    {
      schema: {
        body: Type.Object(
          {
            rules: ScreeningRulesSchema,
            comment: Type.String({ minLength: 3, maxLength: 500 }),
            author: Author,
          },
          { additionalProperties: false },
        ),
        response: { 201: Version, 400: InvalidRequest },
      },
    },
    async (request, reply) => {
      const { rules, comment, author } = request.body;
      return reply.status(201).send(toJson(await deps.create(rules, comment, author)));
    },
  );

  /** How decisions over stored calls would change under a candidate rule set; live calls untouched. */
  app.post<{ Body: { rules: ScreeningRules; from: string; to: string; limit?: number } }>(
    '/rules/backtest',
    {
      schema: {
        body: Type.Object(
          {
            rules: ScreeningRulesSchema,
            from: Type.String({ format: 'date-time', description: 'first arrival screened' }),
            to: Type.String({ format: 'date-time', description: 'end of the range (exclusive)' }),
            limit: Type.Optional(
              Type.Integer({ minimum: 0, maximum: 1000, description: 'changed calls listed' }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: BacktestReply, 400: InvalidRequest },
      },
    },
    async (request) => {
      const { rules, limit = 100 } = request.body;
      const { from, to } = timeRange(request.body, { maxDays: BACKTEST_MAX_DAYS, in: 'body' });
      const result = await deps.backtest(rules, from, to, limit);
      return {
        from: from.toISOString(),
        to: to.toISOString(),
        inForceVersion: deps.inForce().version,
        ...result,
        changes: result.changes.map((change) => ({
          ...change,
          arrivedAt: new Date(change.arrivedAt).toISOString(),
        })),
      };
    },
  );

  app.post<{ Params: { version: number }; Body: { author: string } }>(
    '/rules/:version/activate',
    {
      schema: {
        params: Type.Object({ version: Type.Integer({ minimum: 1 }) }),
        body: Type.Object({ author: Author }, { additionalProperties: false }),
        response: {
          200: Type.Object(
            { version: Type.Integer(), activated: Type.Boolean() },
            { description: 'in force on every instance within a second' },
          ),
          400: InvalidRequest,
          404: problem('no such rule set version'),
        },
      },
    },
    async (request) => {
      const { version } = request.params;
      if (!(await deps.activate(version, request.body.author))) {
        throw new ApiProblem(404, 'rule-set-not-found', `no rule set version ${version}`);
      }
      return { version, activated: true };
    },
  );
}
