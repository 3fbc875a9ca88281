import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Principal } from '../../auth/api-keys.ts';
import {
  type BundleEntry,
  bundleChecksums,
  bundleCsv,
  bundlePath,
  tarStream,
} from '../../recording/export-bundle.ts';
import type { LegalHold, RecordedPrankCall, RecordingSegment } from '../../records/recording-repository.ts';
import { normalizeCallerId } from '../../routing/caller-id.ts';
import { ApiProblem } from '../problem.ts';
import { DateTime, InvalidRequest, Nullable, problem, textResponse } from '../schemas.ts';

/** What the recording routes need: segments, their files, legal holds, the audit log. */
export interface RecordingRoutesDeps {
  /** The call's segments and legal hold; undefined when there is no such call. */
  listForCall(
    callId: string,
  ): Promise<{ segments: RecordingSegment[]; hold: LegalHold | undefined } | undefined>;
  getSegment(callId: string, segment: number): Promise<RecordingSegment | undefined>;
  /** Bytes of a stored segment's file as it is now; null when the file is gone. */
  fileSize(segment: RecordingSegment): Promise<number | null>;
  /** SHA-256 of a stored segment's file as it is now; null when the file is gone. */
  checksum(segment: RecordingSegment): Promise<string | null>;
  read(segment: RecordingSegment, range?: { start: number; end: number }): Readable;
  /** Sets (`hold`) or lifts a legal hold; undefined when there is no such call. */
  setHold(callId: string, hold: boolean, reason: string, by: string): Promise<LegalHold | null | undefined>;
  /** A caller's calls judged prank that have stored recordings, oldest first. */
  recordedPrankCalls(callerNumber: string): Promise<RecordedPrankCall[]>;
  /** The audit log: who listened, downloaded or exported what, and why. */
  audit(entry: {
    principal: Principal;
    method: string;
    route: string;
    url: string;
    status: number;
    body: unknown;
  }): Promise<void>;
}

/** The byte range a `Range` header asks of a file of `size` bytes (RFC 9110 §14), pure. */
export type RangeRequest =
  | { kind: 'whole' }
  | { kind: 'part'; start: number; end: number }
  | { kind: 'unsatisfiable' };

/**
 * One `bytes=` range: `a-b`, `a-` or `-n` (suffix). A header that is not a single valid bytes
 * range is ignored (the whole file), as RFC 9110 allows; a valid range past the end is
 * unsatisfiable (416).
 */
export function parseRange(header: string | undefined, size: number): RangeRequest {
  if (header === undefined) return { kind: 'whole' };
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return { kind: 'whole' };
  const [first, last] = [match[1] as string, match[2] as string];
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'part', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  // last-pos before first-pos: not a valid range, so the header is ignored.
  if (last !== '' && Number(last) < start) return { kind: 'whole' };
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'part', start, end: last === '' ? size - 1 : Math.min(Number(last), size - 1) };
}

const CallParams = Type.Object({ callId: Type.String({ format: 'uuid', description: 'the call id' }) });
const Reason = Type.String({
  minLength: 3,
  maxLength: 500,
  description: 'why (kept in the audit log with who asked), e.g. a case or complaint reference',
});

const SegmentSchema = Type.Object({
  segment: Type.Integer({
    description: '1: the caller from answer; 2: the bridge (caller, taker, agencies)',
  }),
  kind: Type.String({ description: 'caller or bridge' }),
  state: Type.String({ description: 'recording, done (stored) or failed' }),
  format: Type.String(),
  startedAt: DateTime(),
  endedAt: Nullable(DateTime()),
  durationMs: Nullable(Type.Integer()),
  sizeBytes: Nullable(Type.Integer()),
  sha256: Nullable(Type.String()),
  failure: Nullable(
    Type.String({ description: 'why it failed: Asterisk refused, failed, or wrote no file' }),
  ),
});

const HoldSchema = Type.Object({
  reason: Type.String(),
  setBy: Type.String(),
  setAt: DateTime(),
});

const segmentJson = (segment: RecordingSegment) => ({
  segment: segment.segment,
  kind: segment.kind,
  state: segment.state,
  format: segment.format,
  startedAt: segment.startedAt.toISOString(),
  endedAt: segment.endedAt?.toISOString() ?? null,
  durationMs: segment.durationMs,
  sizeBytes: segment.sizeBytes,
  sha256: segment.sha256,
  failure: segment.failure,
});

const holdJson = (hold: LegalHold) => ({
  reason: hold.reason,
  setBy: hold.setBy,
  setAt: hold.setAt.toISOString(),
});

const routeOf = (request: FastifyRequest) => request.routeOptions.url ?? '';

/** Writes the audit entry first: without it nothing is played or handed out (503). */
async function audited(
  deps: RecordingRoutesDeps,
  request: FastifyRequest,
  status: number,
  body: Record<string, unknown>,
): Promise<void> {
  const principal = request.principal;
  if (!principal)
    throw new ApiProblem(401, 'unauthorized', 'headers.authorization: a valid API key is required');
  try {
    await deps.audit({
      principal,
      method: request.method,
      route: routeOf(request),
      url: request.url,
      status,
      body,
    });
  } catch (error) {
    request.log.error({ err: error }, 'could not write the audit log; recording withheld');
    throw new ApiProblem(503, 'audit-unavailable', 'the audit log cannot be written now; nothing was played');
  }
}

function problemReply(
  reply: FastifyReply,
  request: FastifyRequest,
  status: number,
  code: string,
  detail: string,
) {
  return reply
    .status(status)
    .type('application/problem+json')
    .send({ type: `urn:siaga112:problem:${code}`, title: code, status, detail, instance: request.url });
}

export async function recordingRoutes(app: FastifyInstance, deps: RecordingRoutesDeps): Promise<void> {
  /** A call's recording: its segments (where each stands, size, duration, checksum) and any legal hold. */
  app.get<{ Params: { callId: string } }>(
    '/calls/:callId/recordings',
    {
      schema: {
        params: CallParams,
        response: {
          200: Type.Object(
            {
              callId: Type.String(),
              legalHold: Nullable(HoldSchema),
              segments: Type.Array(SegmentSchema),
            },
            { description: "the call's recording, segment by segment, in order" },
          ),
          400: InvalidRequest,
          404: problem('no such call'),
        },
      },
    },
    async (request) => {
      const { callId } = request.params;
      const found = await deps.listForCall(callId);
      if (!found) throw new ApiProblem(404, 'call-not-found', `no call ${callId}`);
      return {
        callId,
        legalHold: found.hold ? holdJson(found.hold) : null,
        segments: found.segments.map(segmentJson),
      };
    },
  );

  /**
   * Plays or downloads a segment (WAVE), whole or a byte range (`Range: bytes=…`: 206 with
   * `Content-Range`; past the end: 416). Every request that sends audio is audited with its reason.
   */
  app.get<{
    Params: { callId: string; segment: number };
    Querystring: { reason: string; download?: boolean };
  }>(
    '/calls/:callId/recordings/:segment',
    {
      schema: {
        params: Type.Object({
          callId: CallParams.properties.callId,
          segment: Type.Integer({ minimum: 1, maximum: 99, description: 'the segment number' }),
        }),
        querystring: Type.Object(
          {
            reason: Reason,
            download: Type.Optional(
              Type.Boolean({ description: 'as an attachment (default: inline, to play)' }),
            ),
          },
          { additionalProperties: false },
        ),
        response: {
          200: textResponse('audio/wav', 'the whole file'),
          206: textResponse('audio/wav', 'the bytes of `Content-Range`'),
          400: InvalidRequest,
          404: problem('no such call or segment'),
          409: problem('the segment is still recording, or failed: there is no file to play'),
          410: problem('the stored file is gone (removed outside siaga112)'),
          416: problem('the range starts past the end of the file (`Content-Range: bytes */<size>`)'),
          503: problem('the audit log cannot be written: nothing is played unaudited'),
        },
      },
    },
    async (request, reply) => {
      const { callId, segment: number } = request.params;
      const segment = await deps.getSegment(callId, number);
      if (!segment)
        throw new ApiProblem(404, 'recording-not-found', `no segment ${number} of call ${callId}`);
      if (segment.state !== 'done') {
        throw new ApiProblem(
          409,
          'recording-not-stored',
          `segment ${number} of call ${callId} is ${segment.state}`,
        );
      }
      const size = await deps.fileSize(segment);
      if (size === null)
        throw new ApiProblem(410, 'recording-file-gone', `the file of segment ${number} is gone`);
      const range = parseRange(request.headers.range, size);
      if (range.kind === 'unsatisfiable') {
        reply.header('content-range', `bytes */${size}`);
        return problemReply(
          reply,
          request,
          416,
          'range-not-satisfiable',
          `headers.range: the file has ${size} bytes`,
        );
      }
      const status = range.kind === 'part' ? 206 : 200;
      const { reason } = request.query;
      await audited(deps, request, status, {
        reason,
        callId,
        segment: number,
        range: range.kind === 'part' ? `bytes=${range.start}-${range.end}` : null,
        download: request.query.download === true,
      });
      const fileName = `siaga112-${callId}-${number}.${segment.format}`;
      reply
        .status(status)
        .header('content-type', 'audio/wav')
        .header('accept-ranges', 'bytes')
        .header('cache-control', 'no-store')
        .header(
          'content-disposition',
          `${request.query.download === true ? 'attachment' : 'inline'}; filename="${fileName}"`,
        );
      if (segment.sha256) reply.header('etag', `"${segment.sha256}"`);
      if (range.kind === 'part') {
        reply.header('content-range', `bytes ${range.start}-${range.end}/${size}`);
        reply.header('content-length', String(range.end - range.start + 1));
        return reply.send(deps.read(segment, { start: range.start, end: range.end }));
      }
      reply.header('content-length', String(size));
      return reply.send(deps.read(segment));
    },
  );

  /** Puts a call on legal hold (its recordings outlive their retention) or lifts the hold. */
  app.put<{ Params: { callId: string }; Body: { hold: boolean; reason: string } }>(
    '/calls/:callId/legal-hold',
    {
      schema: {
        params: CallParams,
        body: Type.Object(
          {
            hold: Type.Boolean({ description: 'true: keep past retention; false: lift the hold' }),
            reason: Reason,
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object(
            {
              callId: Type.String(),
              hold: Type.Boolean(),
              legalHold: Nullable(HoldSchema),
            },
            { description: 'the hold as it stands now' },
          ),
          400: InvalidRequest,
          404: problem('no such call'),
        },
      },
    },
    async (request) => {
      const { callId } = request.params;
      const { hold, reason } = request.body;
      const by = request.principal?.name ?? 'unknown';
      const result = await deps.setHold(callId, hold, reason, by);
      if (result === undefined) throw new ApiProblem(404, 'call-not-found', `no call ${callId}`);
      return { callId, hold: result !== null, legalHold: result ? holdJson(result) : null };
    },
  );

  /**
   * The police's bundle: a caller's recorded prank calls as a tar stream (`calls.csv`,
   * `SHA256SUMS`, the WAVE files under `recordings/`). Every file is checked against its stored
   * checksum first; the export is audited with its reason.
   */
  app.get<{ Querystring: { number: string; reason: string } }>(
    '/exports/prank-calls.tar',
    {
      schema: {
        querystring: Type.Object(
          {
            number: Type.String({ maxLength: 40, description: "the caller's number, any common form" }),
            reason: Reason,
          },
          { additionalProperties: false },
        ),
        response: {
          200: textResponse(
            'application/x-tar',
            'ustar: calls.csv (one line per call, its files and checksums), SHA256SUMS, recordings/*.wav',
          ),
          400: InvalidRequest,
          404: problem('no call of this number judged prank has a stored recording'),
          409: problem('a stored file is missing or does not match its checksum: nothing is exported'),
          503: problem('the audit log cannot be written: nothing is exported unaudited'),
        },
      },
    },
    async (request, reply) => {
      const number = normalizeCallerId(request.query.number).number;
      if (!number)
        throw new ApiProblem(400, 'invalid-number', 'querystring.number: not a usable phone number');
      const calls = await deps.recordedPrankCalls(number);
      if (calls.length === 0) {
        throw new ApiProblem(
          404,
          'no-recorded-prank-calls',
          `no recorded call of ${number} was judged prank`,
        );
      }
      const segments = calls.flatMap((call) => call.segments);
      const sizes = new Map<RecordingSegment, number>();
      for (const segment of segments) {
        const [size, checksum] = await Promise.all([deps.fileSize(segment), deps.checksum(segment)]);
        if (size === null || checksum !== segment.sha256) {
          throw new ApiProblem(
            409,
            'recording-integrity',
            `segment ${segment.segment} of call ${segment.callId}: the file is ${size === null ? 'missing' : 'not what was stored'}`,
          );
        }
        sizes.set(segment, size);
      }
      await audited(deps, request, 200, {
        reason: request.query.reason,
        number,
        calls: calls.map((call) => call.callId),
        files: segments.length,
      });
      const now = new Date();
      const text = (path: string, content: string): BundleEntry => {
        const bytes = Buffer.from(content, 'utf8');
        return { path, size: bytes.length, mtime: now, open: () => bytes };
      };
      const entries: BundleEntry[] = [
        text('calls.csv', bundleCsv(calls)),
        text(
          'SHA256SUMS',
          bundleChecksums(
            segments.map((segment) => ({ path: bundlePath(segment), sha256: segment.sha256 ?? '' })),
          ),
        ),
        ...segments.map((segment) => ({
          path: bundlePath(segment),
          size: sizes.get(segment) ?? 0,
          mtime: segment.endedAt ?? now,
          open: () => deps.read(segment),
        })),
      ];
      const stamp = now.toISOString().slice(0, 10);
      return reply
        .header('content-type', 'application/x-tar')
        .header('cache-control', 'no-store')
        .header(
          'content-disposition',
          `attachment; filename="siaga112-prank-calls-${number.slice(1)}-${stamp}.tar"`,
        )
        .send(Readable.from(tarStream(entries)));
    },
  );
}
