import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** An error a route raises on purpose: a stable code, an HTTP status, a message for people. */
export class ApiProblem extends Error {
  override readonly name = 'ApiProblem';
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * One error handler maps everything to RFC 9457 problem details. Validation errors name the
 * offending field; anything unexpected is a 500 without internals (they go to the log).
 */
export function registerProblemHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | ApiProblem, request, reply) => {
    let status = 500;
    let code = 'internal';
    let detail = 'an internal error occurred; it has been logged';
    if (error instanceof ApiProblem) {
      status = error.status;
      code = error.code;
      detail = error.message;
    } else if (error.validation) {
      status = 400;
      code = 'invalid-request';
      const first = error.validation[0];
      const field = [error.validationContext, first?.instancePath.replace(/^\//, '').replaceAll('/', '.')]
        .filter(Boolean)
        .join('.');
      const missing = (first?.params as { missingProperty?: string } | undefined)?.missingProperty;
      detail = `${missing ? `${field ? `${field}.` : ''}${missing}` : field}: ${first?.message ?? 'is invalid'}`;
    } else if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
      status = error.statusCode;
      code = error.code ?? 'bad-request';
      detail = error.message;
    } else {
      request.log.error({ err: error }, 'request failed');
    }
    void reply
      .status(status)
      .type('application/problem+json')
      .send({ type: `urn:siaga112:problem:${code}`, title: code, status, detail, instance: request.url });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply
      .status(404)
      .type('application/problem+json')
      .send({
        type: 'urn:siaga112:problem:not-found',
        title: 'not-found',
        status: 404,
        detail: `no route ${request.method} ${request.url.split('?')[0]}`,
        instance: request.url,
      });
  });
}

/**
 * Errors the router raises before any route or error handler runs (a path parameter over the
 * length limit, a URL that does not decode): answered as problems like everything else.
 */
export function frameworkProblem(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const status = typeof error.statusCode === 'number' && error.statusCode >= 400 ? error.statusCode : 400;
  const detail =
    error.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? 'params: a path segment is longer than 100 characters'
      : 'url: not a well-formed path (check its percent-encoding)';
  void reply
    .status(status)
    .type('application/problem+json')
    .send({ type: 'urn:siaga112:problem:bad-url', title: 'bad-url', status, detail, instance: request.url });
}

export const ProblemSchema = {
  type: 'object',
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    instance: { type: 'string' },
  },
  required: ['type', 'title', 'status', 'detail'],
} as const;

/** A `from`/`to` pair of a request: `to` after `from`, at most `maxDays` apart; 400 naming the field. */
export function timeRange(
  range: { from: string; to: string },
  options: { maxDays: number; in: 'body' | 'querystring' },
): { from: Date; to: Date } {
  const from = new Date(range.from);
  const to = new Date(range.to);
  const field = `${options.in}.to`;
  if (to.getTime() <= from.getTime()) {
    throw new ApiProblem(400, 'invalid-range', `${field}: must be later than ${options.in}.from`);
  }
  if (to.getTime() - from.getTime() > options.maxDays * 24 * 3600_000) {
    throw new ApiProblem(400, 'invalid-range', `${field}: a range covers at most ${options.maxDays} days`);
  }
  return { from, to };
}
