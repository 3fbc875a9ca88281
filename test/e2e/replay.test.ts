import { afterEach, describe, expect, it } from 'vitest';
import { runReplay } from '../../src/replay/replay.ts';
import { buildReplayReport } from '../../src/replay/replay-report.ts';
import { parseTraffic } from '../../src/replay/traffic.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts';
import { cleanupRedisPrefix, testRedisPrefix, testRedisUrl } from '../support/test-redis.ts';
import { eventually } from './call-center-harness.ts';

let database: TestDatabase | undefined;
let prefix: string | undefined;
afterEach(async () => {
  await database?.destroy();
  if (prefix) await cleanupRedisPrefix(prefix);
  database = undefined;
  prefix = undefined;
});

const TRAFFIC = [
  // A prankster calling through the day: judged prank by the taker each time.
  { id: 'prank-1', at: 0, from: '082144301472', truth: 'prank', talk: 10 },
  { id: 'prank-2', at: 600, from: '+6282144301472', truth: 'prank', talk: 10 },
  { id: 'prank-3', at: 1200, from: '6282144301472', truth: 'prank', talk: 10 },
  // The one taker is busy with a genuine call when a person who cannot speak calls.
  { id: 'genuine-1', at: 1300, from: '085283670093', truth: 'genuine', talk: 40 },
  {
    id: 'silent-genuine-1',
    at: 1305,
    from: '089612940019',
    truth: 'silent-genuine',
    caller: [{ silence: 10 }, { dtmf: '55' }],
    patience: 300,
    talk: 20,
  },
  { id: 'withheld', at: 1500, from: 'anonymous', truth: 'info', talk: 5 },
]
  .map((line) => JSON.stringify(line))
  .concat(['{"id": "broken"'])
  .join('\n');

describe('npm run replay', () => {
  it('drives a traffic file through the real service: the prankster released, every genuine caller reaches a human', async () => {
    database = await createTestDatabase();
    prefix = testRedisPrefix('replay');
    const traffic = parseTraffic(TRAFFIC);
    expect(traffic.problems).toEqual([{ line: 7, message: 'not valid JSON' }]);

    const outcomes = await runReplay({
      calls: traffic.calls,
      rate: 40,
      takers: 1,
      takerAnswerSeconds: 2,
      databaseUrl: database.url,
      redisUrl: testRedisUrl(),
      redisPrefix: prefix,
      logLevel: 'silent',
      env: { WRAP_UP_SECONDS: '0' },
    });
    const byId = new Map(outcomes.map((o) => [o.call.id, o]));
    expect(outcomes.map((o) => [o.call.id, o.disposition, o.decision])).toEqual([
      ['prank-1', 'connected', 'connect'],
      ['prank-2', 'connected', 'connect-low'],
      ['prank-3', 'released', 'warn-and-release'],
      ['genuine-1', 'connected', 'connect'],
      ['silent-genuine-1', 'connected', 'connect'],
      ['withheld', 'connected', 'connect'],
    ]);
    // Call time, not real time: two seconds of ringing before the taker picks up.
    expect(byId.get('genuine-1')?.timeToHumanMs).toBeGreaterThanOrEqual(2000);
    // The silent caller waited behind the genuine call (40 s of talk) and then reached the taker.
    expect(byId.get('silent-genuine-1')?.timeToHumanMs).toBeGreaterThan(30_000);
    expect(byId.get('genuine-1')?.talkMs).toBeGreaterThanOrEqual(40_000);
    const silent = await database.db
      .selectFrom('calls')
      .innerJoin('call_events', 'call_events.call_id', 'calls.id')
      .select(['call_events.type', 'calls.priority'])
      .where('calls.caller_number', '=', '+6289612940019')
      .execute();
    expect(silent.map((row) => row.type)).toEqual(expect.arrayContaining(['challenge', 'silent-confirmed']));
    expect(silent[0]?.priority).toBe(0);

    // Every answered call was recorded into the emulated Asterisk's directory: no segment failed.
    const segments = await eventually(async () => {
      const rows = await database!.db.selectFrom('call_recordings').select(['state']).execute();
      return rows.length > 0 && rows.every((row) => row.state !== 'recording') ? rows : undefined;
    }, 'the recordings stored');
    expect(segments.filter((row) => row.state === 'failed')).toEqual([]);

    const report = buildReplayReport(outcomes, traffic.problems);
    expect(report.genuineNotReached).toEqual([]);
    expect(report.missingRecords).toEqual([]);
    expect(report.overall.suspectedPrank).toMatchObject({ suspected: 2, pranks: 3, precision: 1 });
    expect(report.classes.find((c) => c.truth === 'prank')).toMatchObject({
      calls: 3,
      warnedAndReleased: 1 / 3,
    });
  });
});
