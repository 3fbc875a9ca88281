import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { readWavFormat } from '../../src/asterisk-conf/wav-header.ts';
import type { InboundCall } from '../../src/emulator/asterisk-emulator.ts';
import { RECORDINGS_QUEUE } from '../../src/recording/recording-jobs.ts';
import { testRedisUrl } from '../support/test-redis.ts';
import {
  type CallCenterUnderTest,
  eventually,
  startCallCenter,
  untilBridged,
} from './call-center-harness.ts';

let center: CallCenterUnderTest | undefined;
const scratch: string[] = [];
afterEach(async () => {
  await center?.close();
  center = undefined;
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

interface Segment {
  segment: number;
  kind: string;
  state: string;
  format: string;
  startedAt: string;
  endedAt: string | null;
  durationMs: number | null;
  sizeBytes: number | null;
  sha256: string | null;
  failure: string | null;
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function start(env: Record<string, string> = {}): Promise<CallCenterUnderTest> {
  center = await startCallCenter({ takers: 1, env });
  center.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 50 });
  await center.makeAvailable('taker1');
  return center;
}

/** The call's id once its record is final. */
async function finishedCall(c: CallCenterUnderTest, call: InboundCall): Promise<string> {
  const row = await eventually(
    () =>
      c.database.db
        .selectFrom('calls')
        .select(['id', 'disposition'])
        .where('caller_channel_id', '=', call.channelId)
        .executeTakeFirst()
        .then((found) => (found?.disposition ? found : undefined)),
    'the call record',
  );
  return row.id;
}

/** The call's segments once none is still recording (`count` of them). */
async function settledSegments(c: CallCenterUnderTest, callId: string, count: number): Promise<Segment[]> {
  return eventually(async () => {
    const reply = await c.service.app.inject({ method: 'GET', url: `/calls/${callId}/recordings` });
    expect(reply.statusCode, reply.body).toBe(200);
    const segments = reply.json().segments as Segment[];
    return segments.length === count && segments.every((s) => s.state !== 'recording') ? segments : undefined;
  }, `${count} settled segments of call ${callId}`);
}

/** A caller put through to taker1, talking `talkMs`, then hanging up; the call id. */
async function talk(c: CallCenterUnderTest, from: string, talkMs = 300): Promise<string> {
  const call = c.emulator.placeCall({ from });
  await untilBridged(c, call);
  await sleep(talkMs);
  call.hangup();
  return finishedCall(c, call);
}

async function timeline(c: CallCenterUnderTest, callId: string) {
  return c.calls.listCallEvents(callId);
}

describe('call recording', () => {
  it("records a call from the answer and through the bridge; each segment's row matches its file", async () => {
    const c = await start();
    const requests: Array<{ operation: string | undefined; status: number }> = [];
    c.emulator.on('request', ({ operation, status }) => requests.push({ operation, status }));
    const callId = await talk(c, '081211110001', 400);
    const segments = await settledSegments(c, callId, 2);
    expect(segments.map((s) => [s.segment, s.kind, s.state])).toEqual([
      [1, 'caller', 'done'],
      [2, 'bridge', 'done'],
    ]);
    for (const segment of segments) {
      // Without RECORDINGS_STORE_DIR the file stays where Asterisk wrote it.
      const bytes = readFileSync(
        join(c.emulator.recordingsDir, `siaga112-${callId}-${segment.segment}-${segment.kind}.wav`),
      );
      expect(segment.sizeBytes).toBe(bytes.length);
      expect(segment.sha256).toBe(sha256(bytes));
      const wav = readWavFormat(bytes);
      expect(wav).toMatchObject({ sampleRate: 8000, channels: 1, bitsPerSample: 16 });
      expect(segment.durationMs).toBe(Math.round(wav.durationSeconds * 1000));
      expect(segment.format).toBe('wav');
    }
    // The bridge's segment goes on where the caller's ended.
    expect(Date.parse(segments[1]!.startedAt)).toBeGreaterThanOrEqual(Date.parse(segments[0]!.startedAt));
    expect(segments[1]!.durationMs).toBeGreaterThan(0);

    const events = await timeline(c, callId);
    const types = events.map((e) => e.type);
    const started = events.filter((e) => e.type === 'recording-started');
    expect(started.map((e) => e.detail.kind)).toEqual(['caller', 'bridge']);
    expect(types.indexOf('answered')).toBeLessThan(types.indexOf('recording-started'));
    expect(types.indexOf('bridged')).toBeLessThan(types.lastIndexOf('recording-started'));
    expect(types.at(-1)).toBe('ended');
    expect(types).not.toContain('bridge-failed');
    // The leg's recording was stopped before the bridging (Asterisk refuses a recorded channel).
    const ops = requests.map((r) => r.operation);
    expect(ops.indexOf('recordings.stop')).toBeLessThan(ops.indexOf('bridges.addChannel'));
    expect(requests.filter((r) => r.operation === 'bridges.addChannel').map((r) => r.status)).toEqual([204]);
    expect(c.emulator.violations).toEqual([]);
  });

  it('moves finished files to RECORDINGS_STORE_DIR, checksummed, leaving nothing in the spool', async () => {
    const store = mkdtempSync(join(tmpdir(), 'siaga112-store-'));
    scratch.push(store);
    const c = await start({ RECORDINGS_STORE_DIR: store });
    const callId = await talk(c, '081211110002');
    const segments = await settledSegments(c, callId, 2);
    for (const segment of segments) {
      const name = `siaga112-${callId}-${segment.segment}-${segment.kind}.wav`;
      const bytes = readFileSync(join(store, name));
      expect(segment).toMatchObject({ state: 'done', sizeBytes: bytes.length, sha256: sha256(bytes) });
      expect(existsSync(join(c.emulator.recordingsDir, name))).toBe(false);
    }
    const rows = await c.database.db
      .selectFrom('call_recordings')
      .select(['location', 'file_name'])
      .execute();
    expect(rows.map((r) => r.location)).toEqual(['store', 'store']);
  });

  it('a refused recording leaves the call unharmed and flagged: timeline, /ready (degraded), metrics', async () => {
    const c = await start();
    c.emulator.setRecordingFault('no-directory');
    const refused = await talk(c, '081211110003');
    const record = await c.calls.getCall(refused);
    expect(record).toMatchObject({ disposition: 'connected', takerId: 'taker1' });
    const segments = await settledSegments(c, refused, 2);
    expect(segments.map((s) => s.state)).toEqual(['failed', 'failed']);
    expect(segments[0]!.failure).toMatch(/500/);
    const failures = (await timeline(c, refused)).filter((e) => e.type === 'recording-failed');
    expect(failures.map((e) => [e.detail.kind, e.detail.stage])).toEqual([
      ['caller', 'start'],
      ['bridge', 'start'],
    ]);
    const ready = await c.service.app.inject({ method: 'GET', url: '/ready' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({
      ready: true,
      checks: { recording: false },
      degraded: ['recording'],
    });
    const metrics = (await c.service.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toContain('siaga112_recording_failures_total{kind="caller",stage="start"} 1');

    // A disk that takes nothing: Asterisk says the recording finished, but there is no file.
    c.emulator.setRecordingFault('unwritable');
    const unwritten = await talk(c, '081211110004');
    const lost = await settledSegments(c, unwritten, 2);
    expect(lost.map((s) => [s.state, s.failure?.split(':')[0]])).toEqual([
      ['failed', 'file-missing'],
      ['failed', 'file-missing'],
    ]);
    expect(await c.calls.getCall(unwritten)).toMatchObject({ disposition: 'connected' });
    await eventually(
      async () => (await timeline(c, unwritten)).filter((e) => e.type === 'recording-failed').length === 2,
      'the lost files on the timeline',
    );

    // Asterisk can record again: the next call is stored and /ready is no longer degraded.
    c.emulator.setRecordingFault(null);
    const fine = await talk(c, '081211110005');
    expect((await settledSegments(c, fine, 2)).map((s) => s.state)).toEqual(['done', 'done']);
    await eventually(
      async () => (await c.service.app.inject({ method: 'GET', url: '/ready' })).json().degraded.length === 0,
      '/ready no longer degraded',
    );
  });

  it('plays a segment only to a supervisor or admin with a reason, audited, with byte ranges', async () => {
    const c = await start();
    const callId = await talk(c, '081211110006', 400);
    const [caller] = await settledSegments(c, callId, 2);
    const file = readFileSync(join(c.emulator.recordingsDir, `siaga112-${callId}-1-caller.wav`));
    const supervisor = await c.createKey('supervisor');
    const taker = await c.createKey('call-taker', 'taker1');
    const url = `/calls/${callId}/recordings/1`;
    const get = (key: string, query: string, headers: Record<string, string> = {}) =>
      c.service.app.inject({
        method: 'GET',
        url: `${url}${query}`,
        headers: { authorization: `Bearer ${key}`, ...headers },
      });
    const reason = '?reason=complaint%20KDI-2026-117';

    expect((await get(taker, reason)).statusCode).toBe(403);
    const unexplained = await get(supervisor, '');
    expect(unexplained.statusCode).toBe(400);
    expect(unexplained.json().detail).toMatch(/^querystring\.reason\b/);

    const whole = await get(supervisor, reason);
    expect(whole.statusCode).toBe(200);
    expect(whole.headers).toMatchObject({
      'content-type': 'audio/wav',
      'accept-ranges': 'bytes',
      'content-length': String(file.length),
      etag: `"${caller!.sha256}"`,
    });
    expect(whole.rawPayload.equals(file)).toBe(true);

    const head = await get(supervisor, reason, { range: 'bytes=0-99' });
    expect(head.statusCode).toBe(206);
    expect(head.headers['content-range']).toBe(`bytes 0-99/${file.length}`);
    expect(head.rawPayload.equals(file.subarray(0, 100))).toBe(true);
    const tail = await get(supervisor, reason, { range: 'bytes=-10' });
    expect(tail.statusCode).toBe(206);
    expect(tail.headers['content-range']).toBe(`bytes ${file.length - 10}-${file.length - 1}/${file.length}`);
    expect(tail.rawPayload.equals(file.subarray(file.length - 10))).toBe(true);
    const open = await get(supervisor, reason, { range: `bytes=${file.length - 5}-` });
    expect(open.rawPayload.equals(file.subarray(file.length - 5))).toBe(true);
    const past = await get(supervisor, reason, { range: `bytes=${file.length}-` });
    expect(past.statusCode).toBe(416);
    expect(past.headers['content-range']).toBe(`bytes */${file.length}`);
    expect(past.headers['content-type']).toMatch(/^application\/problem\+json/);
    // A header that is not one valid bytes range is ignored: the whole file.
    expect((await get(supervisor, reason, { range: 'bytes=5-1' })).statusCode).toBe(200);
    expect((await get(supervisor, `${reason}&download=true`)).headers['content-disposition']).toMatch(
      /^attachment;/,
    );
    const missing = await c.service.app.inject({
      method: 'GET',
      url: `/calls/${callId}/recordings/9${reason}`,
      headers: { authorization: `Bearer ${supervisor}` },
    });
    expect(missing.statusCode).toBe(404);

    const audit = await c.database.db
      .selectFrom('audit_log')
      .selectAll()
      .where('route', '=', '/calls/:callId/recordings/:segment')
      .orderBy('id')
      .execute();
    // Every response that carried audio, and nothing else (403, 400, 416 are not playbacks).
    expect(audit.map((row) => row.status)).toEqual([200, 206, 206, 206, 200, 200]);
    expect(audit[1]).toMatchObject({
      actor: 'test supervisor',
      role: 'supervisor',
      method: 'GET',
      body: { reason: 'complaint KDI-2026-117', callId, segment: 1, range: 'bytes=0-99', download: false },
    });
  });

  it('removes recordings past their retention, files and rows, and keeps those on legal hold', async () => {
    const c = await start({ RECORDING_RETENTION_DAYS: '30' });
    const old = await talk(c, '081211110007');
    const held = await talk(c, '081211110008');
    const recent = await talk(c, '081211110009');
    for (const callId of [old, held, recent]) await settledSegments(c, callId, 2);
    const supervisor = await c.createKey('supervisor');
    const hold = (callId: string, body: Record<string, unknown>, key?: string) =>
      c.service.app.inject({
        method: 'PUT',
        url: `/calls/${callId}/legal-hold`,
        payload: body,
        ...(key ? { headers: { authorization: `Bearer ${key}` } } : {}),
      });
    expect((await hold(held, { hold: true, reason: 'police case 17/2026' }, supervisor)).statusCode).toBe(
      403,
    );
    const placed = await hold(held, { hold: true, reason: 'police case 17/2026' });
    expect(placed.statusCode).toBe(200);
    expect(placed.json()).toMatchObject({
      callId: held,
      hold: true,
      legalHold: { reason: 'police case 17/2026' },
    });
    expect((await hold(held, { hold: true })).json().detail).toMatch(/^body\.reason\b/);
    expect(
      (await hold('00000000-0000-4000-8000-000000000000', { hold: true, reason: 'xyz' })).statusCode,
    ).toBe(404);
    const listed = await c.service.app.inject({ method: 'GET', url: `/calls/${held}/recordings` });
    expect(listed.json().legalHold).toMatchObject({ reason: 'police case 17/2026', setBy: 'test admin' });

    // Two of the calls are older than the retention.
    const past = new Date(Date.now() - 40 * 24 * 3600_000);
    await c.database.db
      .updateTable('calls')
      .set({ arrived_at: past })
      .where('id', 'in', [old, held])
      .execute();
    const files = (callId: string) =>
      [1, 2].map((n) =>
        join(c.emulator.recordingsDir, `siaga112-${callId}-${n}-${n === 1 ? 'caller' : 'bridge'}.wav`),
      );

    const report = await c.service.recordings.purge();
    expect(report.removed.map((r) => [r.callId, r.segment])).toEqual([
      [old, 1],
      [old, 2],
    ]);
    expect(report.keptOnHold).toBe(2);
    for (const file of files(old)) expect(existsSync(file)).toBe(false);
    for (const file of [...files(held), ...files(recent)]) expect(existsSync(file)).toBe(true);
    const left = await c.database.db.selectFrom('call_recordings').select('call_id').execute();
    expect(new Set(left.map((r) => r.call_id))).toEqual(new Set([held, recent]));
    // The call's record stays; only its recording went.
    expect(await c.calls.getCall(old)).toMatchObject({ disposition: 'connected' });

    // Once the hold is lifted, the next purge takes that call's recording too.
    expect((await hold(held, { hold: false, reason: 'case closed' })).json()).toEqual({
      callId: held,
      hold: false,
      legalHold: null,
    });
    expect((await c.service.recordings.purge()).removed.map((r) => r.callId)).toEqual([held, held]);
    for (const file of files(held)) expect(existsSync(file)).toBe(false);

    // The purge runs daily, once for the whole cluster.
    const queue = new Queue(RECORDINGS_QUEUE, { connection: { url: testRedisUrl() }, prefix: c.redisPrefix });
    try {
      expect(await queue.getJobScheduler('recording-retention')).toMatchObject({ every: 24 * 3600_000 });
    } finally {
      await queue.close();
    }
  });

  it("exports a caller's recorded prank calls for the police: the bundle holds what it lists", async () => {
    const c = await start();
    const number = '081211110010';
    const verdict = (callId: string, value: string) =>
      c.service.app.inject({
        method: 'PUT',
        url: `/calls/${callId}/verdict`,
        payload: { verdict: value, takerId: 'taker1' },
      });
    const genuine = await talk(c, number);
    expect((await verdict(genuine, 'genuine')).statusCode).toBe(200);
    const firstPrank = await talk(c, number);
    expect((await verdict(firstPrank, 'prank')).statusCode).toBe(200);
    const secondPrank = await talk(c, number);
    expect((await verdict(secondPrank, 'prank')).statusCode).toBe(200);
    for (const callId of [genuine, firstPrank, secondPrank]) await settledSegments(c, callId, 2);

    const url = `/exports/prank-calls.tar?number=${number}&reason=${encodeURIComponent('Polres Kendari LP/117')}`;
    const supervisor = await c.createKey('supervisor');
    expect(
      (await c.service.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${supervisor}` } }))
        .statusCode,
    ).toBe(403);
    const unexplained = await c.service.app.inject({
      method: 'GET',
      url: `/exports/prank-calls.tar?number=${number}`,
    });
    expect(unexplained.json().detail).toMatch(/^querystring\.reason\b/);
    expect(
      (await c.service.app.inject({ method: 'GET', url: url.replace(number, '081299999999') })).statusCode,
    ).toBe(404);

    const reply = await c.service.app.inject({ method: 'GET', url });
    expect(reply.statusCode, reply.body.slice(0, 200)).toBe(200);
    expect(reply.headers['content-type']).toBe('application/x-tar');
    const entries = untar(reply.rawPayload);
    const csv = entries.get('calls.csv')!.toString('utf8').trim().split('\r\n');
    expect(csv[0]).toMatch(/^call_id,arrived_at,/);
    const lines = csv.slice(1).map((line) => line.split(','));
    expect(lines.map((fields) => fields[0])).toEqual([firstPrank, secondPrank]);
    const listed = lines.flatMap((fields) => {
      const paths = fields.at(-2)!.split(';');
      const sums = fields.at(-1)!.split(';');
      return paths.map((path, i) => ({ path, sha256: sums[i] }));
    });
    expect(listed).toHaveLength(4);
    for (const { path, sha256: sum } of listed) {
      expect(entries.has(path), path).toBe(true);
      expect(sha256(entries.get(path)!)).toBe(sum);
    }
    const sums = entries.get('SHA256SUMS')!.toString('utf8').trim().split('\n');
    expect(sums.map((line) => line.split('  ')[1])).toEqual(listed.map((l) => l.path));
    // Nothing in the bundle that the CSV does not list.
    expect([...entries.keys()].sort()).toEqual(
      ['SHA256SUMS', 'calls.csv', ...listed.map((l) => l.path)].sort(),
    );

    const audit = await c.database.db
      .selectFrom('audit_log')
      .selectAll()
      .where('route', '=', '/exports/prank-calls.tar')
      .execute();
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      actor: 'test admin',
      status: 200,
      body: {
        reason: 'Polres Kendari LP/117',
        number: '+6281211110010',
        calls: [firstPrank, secondPrank],
        files: 4,
      },
    });
  });
});

/** The regular files of a ustar stream, by name (and the checksum of each header verified). */
function untar(tar: Buffer): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  let offset = 0;
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) break;
    const field = (start: number, length: number) =>
      header
        .subarray(start, start + length)
        .toString('ascii')
        .replace(/\0.*$/s, '')
        .trim();
    const stored = Number.parseInt(field(148, 8), 8);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : (header[i] as number);
    expect(sum).toBe(stored);
    expect(field(257, 6)).toBe('ustar');
    const size = Number.parseInt(field(124, 12), 8);
    files.set(
      header.subarray(0, 100).toString('utf8').replace(/\0.*$/s, ''),
      tar.subarray(offset + 512, offset + 512 + size),
    );
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}
