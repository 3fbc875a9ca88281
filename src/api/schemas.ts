import { type TSchema, Type } from 'typebox';
import { ProblemSchema } from './problem.ts';

/**
 * Schema pieces the routes share. Responses are serialized by their schema (fast-json-stringify):
 * a property a schema leaves out is dropped, so an object whose shape varies says so with
 * `additionalProperties: true`.
 */

/** A value or null (OpenAPI 3.0 shows it as `nullable`). */
export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/** A moment in ISO 8601; a `Date` a handler returns is serialized as one. */
export const DateTime = (description?: string) =>
  Type.String({ format: 'date-time', ...(description === undefined ? {} : { description }) });

/** Screening's decision on a call, its score and the reasons a person reads. */
export const ScreeningOutcomeSchema = Type.Object(
  {
    decision: Type.String({ description: 'connect, connect-low, challenge or warn-and-release' }),
    score: Type.Number({ description: 'higher is more suspect' }),
    reasons: Type.Array(Type.String()),
  },
  { additionalProperties: true },
);

/** A success response that is not JSON (a stream, a file), documented by its media type. */
export const textResponse = (mediaType: string, description: string) => ({
  description,
  content: { [mediaType]: { schema: { type: 'string' } } },
});

/**
 * An error response of a route's schema: problem details under the media type the error handler
 * sends (`application/problem+json`), with what the status means for that route.
 */
export const problem = (description: string) =>
  ({ description, content: { 'application/problem+json': { schema: ProblemSchema } } }) as const;

/** The 400 of every route with params, a query or a body: validation names the offending field. */
export const InvalidRequest = problem('invalid request; `detail` names the offending field');
