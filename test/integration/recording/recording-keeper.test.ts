import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { wavHeader } from '../../../src/emulator/recording-state.ts';
import { createLogger } from '../../../src/logger.ts';
import { RecordingHealth } from '../../../src/recording/call-recorder.ts';
import type { RecordingJobs } from '../../../src/recording/recording-jobs.ts';
import { createRecordingKeeper, type RecordingKeeper } from '../../../src/recording/recording-keeper.ts';
import { createRecordingMetrics } from '../../../src/recording/recording-metrics.ts';
import { fileNameOf, segmentRef } from '../../../src/recording/recording-name.ts';
import { LocalRecordingStore } from '../../../src/recording/recording-store.ts';
import { createCallRepository } from '../../../src/records/call-repository.ts';
import { createRecordingRepository } from '../../../src/records/recording-repository.ts';
import { callRecord } from '../../support/call-fixtures.ts';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts';

let database: TestDatabase;
let spool: string;
let store: string;
let keeper: RecordingKeeper;
let health: RecordingHealth;
const appended: Array<{ callId: string; type: string; state: string | undefined }> = [];

beforeEach(async () => {
  database = await createTestDatabase();
  spool = mkdtempSync(join(tmpdir(), 'siaga112-spool-'));
  store = mkdtempSync(join(tmpdir(), 'siaga112-store-'));
  health = new RecordingHealth();
  appended.length = 0;
  keeper = createRecordingKeeper({
    repository: createRecordingRepository(database.db),
    store: new LocalRecordingStore({ spoolDir: spool, storeDir: store }),
    timeline: {
      append: async (callId, events, state) => {
        for (const event of events) appended.push({ callId, type: event.type, state });
      },
    },
    metrics: createRecordingMetrics(new Registry()),
    health,
    logger: createLogger('silent'),
    retentionDays: 30,
    now: () => Date.now(),
  });
});

afterEach(async () => {
  await database.destroy();
  rmSync(spool, { recursive: true, force: true });
  rmSync(store, { recursive: true, force: true });
});

/** A call row, as the record writer would have put it. */
async function storedCall(): Promise<string> {
  const record = callRecord({ arrivedAt: new Date() });
  await createCallRepository(database.db).applyUpdates([{ record, events: [] }]);
  return record.id;
}

function segmentJob(callId: string, kind: 'caller' | 'bridge' = 'caller') {
  return { ...segmentRef(callId, kind), format: 'wav', startedAt: new Date().toISOString() };
}

function finishedJob(callId: string): RecordingJobs['finished'] {
  return { ...segmentJob(callId), endedAt: new Date().toISOString(), callState: 'connected' };
}

/** Writes what Asterisk would: a WAVE file of `seconds` of silence in the spool. */
function asteriskWrites(callId: string, seconds: number): Buffer {
  const data = Buffer.alloc(seconds * 16_000);
  const bytes = Buffer.concat([wavHeader(data.length), data]);
  writeFileSync(join(spool, fileNameOf(segmentRef(callId, 'caller'))), bytes);
  return bytes;
}

const rowOf = (callId: string) => createRecordingRepository(database.db).get(callId, 1);

describe('the recording jobs', () => {
  it("wait for the call's row: a segment of a call not yet in Postgres is retried", async () => {
    const callId = callRecord().id;
    await expect(keeper.handlers.started(segmentJob(callId))).rejects.toThrow();
    await createCallRepository(database.db).applyUpdates([
      { record: callRecord({ id: callId }), events: [] },
    ]);
    await keeper.handlers.started(segmentJob(callId));
    expect(await rowOf(callId)).toMatchObject({ state: 'recording', kind: 'caller' });
  });

  it('keep a finished segment: moved to the store, checksummed, timed; a repeated job changes nothing', async () => {
    const callId = await storedCall();
    await keeper.handlers.started(segmentJob(callId));
    const bytes = asteriskWrites(callId, 2);
    await keeper.handlers.finished(finishedJob(callId));
    const row = await rowOf(callId);
    expect(row).toMatchObject({
      state: 'done',
      location: 'store',
      fileName: fileNameOf(segmentRef(callId, 'caller')),
      sizeBytes: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      durationMs: 2000,
    });
    expect(readFileSync(join(store, row!.fileName!)).equals(bytes)).toBe(true);
    expect(existsSync(join(spool, row!.fileName!))).toBe(false);
    expect(health.healthy).toBe(true);
    // Retried, or a late start: the segment stays as it is.
    await keeper.handlers.finished(finishedJob(callId));
    await keeper.handlers.started(segmentJob(callId));
    await keeper.handlers.failed({ ...segmentJob(callId), at: new Date().toISOString(), failure: 'late' });
    expect(await rowOf(callId)).toEqual(row);
  });

  it('fail a segment Asterisk finished without writing a file, on the timeline, and say so in /ready', async () => {
    const callId = await storedCall();
    await keeper.handlers.started(segmentJob(callId));
    await keeper.handlers.finished(finishedJob(callId));
    expect(await rowOf(callId)).toMatchObject({
      state: 'failed',
      failure: expect.stringMatching(/^file-missing/),
    });
    expect(appended).toEqual([{ callId, type: 'recording-failed', state: 'connected' }]);
    expect(health.healthy).toBe(false);
  });

  it('settle a segment whose end was never heard, from its file, once the call is over', async () => {
    const callId = await storedCall();
    await keeper.handlers.started(segmentJob(callId));
    asteriskWrites(callId, 1);
    await keeper.handlers.settle({ callId });
    expect(await rowOf(callId)).toMatchObject({ state: 'done', durationMs: 1000, location: 'store' });
  });

  it('purge a segment that never got a file, and what Asterisk left of it', async () => {
    const callId = await storedCall();
    await keeper.handlers.failed({
      ...segmentJob(callId),
      at: new Date().toISOString(),
      failure: 'asterisk: 500',
    });
    asteriskWrites(callId, 1);
    await database.db
      .updateTable('calls')
      .set({ arrived_at: new Date(Date.now() - 31 * 24 * 3600_000) })
      .where('id', '=', callId)
      .execute();
    const report = await keeper.purge();
    expect(report.removed).toEqual([{ callId, segment: 1, fileName: null, bytes: null }]);
    expect(existsSync(join(spool, fileNameOf(segmentRef(callId, 'caller'))))).toBe(false);
    expect(await rowOf(callId)).toBeUndefined();
  });

  it('purge on past a file it cannot delete, keeping that one row for the next purge', async () => {
    const stuck = await storedCall();
    const later = await storedCall();
    for (const callId of [stuck, later]) {
      await keeper.handlers.failed({ ...segmentJob(callId), at: new Date().toISOString(), failure: 'x' });
    }
    // Something that is not a file where the stuck segment's file would be: rm() refuses it.
    mkdirSync(join(spool, fileNameOf(segmentRef(stuck, 'caller'))));
    await database.db
      .updateTable('calls')
      .set({ arrived_at: new Date(Date.now() - 40 * 24 * 3600_000) })
      .where('id', '=', stuck)
      .execute();
    await database.db
      .updateTable('calls')
      .set({ arrived_at: new Date(Date.now() - 35 * 24 * 3600_000) })
      .where('id', '=', later)
      .execute();
    const report = await keeper.purge();
    expect(report.removed.map((r) => r.callId)).toEqual([later]);
    expect(report.notRemoved).toBe(1);
    expect(await rowOf(stuck)).toMatchObject({ state: 'failed' });
  });
});
