/**
 * The supervisor wallboard in a real browser: Chromium, driven by playwright-core, opens the page
 * while a short replay runs through the real service. A call taker's key is refused at the sign-in,
 * a supervisor's is taken; the page follows the calls by push alone (it is never reloaded); when
 * the replay is over, every figure, every bar of the chart and the latest screening decision on the
 * screen are those of the records in PostgreSQL. A screenshot is left in test/artifacts/.
 */
import { mkdir } from 'node:fs/promises';
import { sql } from 'kysely';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { createApiKeyRepository } from '../../src/auth/api-keys.ts';
import { localDay } from '../../src/local-day.ts';
import { type Replay, startReplay } from '../../src/replay/replay.ts';
import { parseTraffic } from '../../src/replay/traffic.ts';
import { eventually } from '../e2e/call-center-harness.ts';
import { findChromium } from '../support/chromium.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts';
import { cleanupRedisPrefix, testRedisPrefix, testRedisUrl } from '../support/test-redis.ts';

const TIME_ZONE = 'Asia/Jakarta';
const SCREENSHOT = new URL('../artifacts/wallboard.png', import.meta.url);

/** Three hours of a morning: pranks from one number (judged, then screened), a misdial, a silent caller. */
const TRAFFIC = [
  { id: 'prank-1', at: 0, from: '082144301472', truth: 'prank', talk: 20 },
  { id: 'genuine-1', at: 120, from: '081234560001', truth: 'genuine', talk: 60 },
  { id: 'genuine-2', at: 125, from: '081234560002', truth: 'genuine', talk: 45 },
  {
    id: 'misdial-1',
    at: 130,
    from: '081234560003',
    truth: 'misdial',
    caller: [{ speak: 2 }, { hangup: true }],
    patience: 20,
    talk: 5,
  },
  { id: 'prank-2', at: 1800, from: '+6282144301472', truth: 'prank', talk: 15 },
  { id: 'prank-3', at: 3600, from: '6282144301472', truth: 'prank', talk: 10 },
  {
    id: 'silent-genuine-1',
    at: 5400,
    from: '089612940019',
    truth: 'silent-genuine',
    caller: [{ silence: 10 }, { dtmf: '55' }],
    patience: 300,
    talk: 20,
  },
  { id: 'info-1', at: 7300, from: 'anonymous', truth: 'info', talk: 20 },
  { id: 'genuine-3', at: 9000, from: '085283670093', truth: 'genuine', talk: 90 },
  {
    id: 'silent-accidental-1',
    at: 9030,
    from: '085265998216',
    truth: 'silent-accidental',
    caller: [{ silence: 600 }],
    patience: 60,
    talk: 10,
  },
]
  .map((line) => JSON.stringify(line))
  .join('\n');

let browser: Browser | undefined;
let replay: Replay | undefined;
let database: TestDatabase | undefined;
let prefix: string | undefined;
afterEach(async () => {
  await browser?.close();
  await replay?.close();
  await database?.destroy();
  if (prefix) await cleanupRedisPrefix(prefix);
  browser = replay = database = prefix = undefined;
});

/** What the records say the wallboard must show for the day, formatted as the page does. */
async function expectedScreen(db: TestDatabase['db'], day: { from: Date; to: Date }) {
  // Plain SQL, not the report's code: the definitions of README "Records and reports".
  const answered = sql`connected_at is not null and taker_id is not null`;
  const { rows } = await sql<{
    offered: string;
    answered: string;
    abandoned: string;
    released: string;
    prank: string;
    silent: string;
    within15: string;
    average_ms: number | null;
    p90_ms: number | null;
  }>`select count(*) as offered,
        count(*) filter (where ${answered}) as answered,
        count(*) filter (where disposition = 'abandoned') as abandoned,
        count(*) filter (where disposition = 'released') as released,
        count(*) filter (where verdict = 'prank') as prank,
        count(*) filter (where verdict = 'silent' or disposition = 'silent') as silent,
        count(*) filter (where ${answered} and wait_ms <= 15000) as within15,
        avg(wait_ms) filter (where ${answered}) as average_ms,
        percentile_cont(0.9) within group (order by wait_ms) filter (where ${answered}) as p90_ms
      from calls where arrived_at >= ${day.from} and arrived_at < ${day.to}`.execute(db);
  const figures = rows[0]!;
  const seconds = (ms: number | null) =>
    ms === null ? '–' : `${(Math.round(Number(ms) / 100) / 10).toFixed(1)} s`;
  const offered = Number(figures.offered);
  const bars = await db
    .selectFrom('calls')
    .select(['arrived_at', 'verdict', 'disposition'])
    .where('arrived_at', '>=', day.from)
    .where('arrived_at', '<', day.to)
    .execute();
  const chart = new Map<string, number>();
  for (const call of bars) {
    const hour = Number(
      new Intl.DateTimeFormat('en-GB', { timeZone: TIME_ZONE, hour: '2-digit', hourCycle: 'h23' }).format(
        call.arrived_at,
      ),
    );
    const judged = ['genuine', 'prank', 'silent', 'misdial', 'info'].includes(call.verdict ?? '');
    const callClass = judged
      ? call.verdict
      : call.disposition === 'silent'
        ? 'silent'
        : call.disposition === 'released'
          ? 'released'
          : 'none';
    chart.set(`${hour} ${callClass}`, (chart.get(`${hour} ${callClass}`) ?? 0) + 1);
  }
  const latest = await db
    .selectFrom('calls')
    .select(['id', 'screening_decision'])
    .where('arrived_at', '>=', day.from)
    .where('screening_decision', 'is not', null)
    .orderBy('arrived_at', 'desc')
    .limit(1)
    .executeTakeFirstOrThrow();
  return {
    figures: {
      offered: String(offered),
      answered: figures.answered,
      abandoned: figures.abandoned,
      released: figures.released,
      prank: figures.prank,
      silent: figures.silent,
      serviceLevel15: offered === 0 ? '–' : `${Math.round((Number(figures.within15) / offered) * 100)}%`,
      averageAnswerSeconds: seconds(figures.average_ms),
      p90AnswerSeconds: seconds(figures.p90_ms),
    },
    chart: Object.fromEntries([...chart].sort()),
    latest: { callId: latest.id, decision: latest.screening_decision },
  };
}

/** What the page shows now, read from the screen (text) and the chart's bars. */
async function screen(page: Page) {
  // Element callbacks run in the page; the project's types have no DOM, so attributes are read by name.
  const figures = await page.$$eval('[data-figure]', (nodes) =>
    nodes.map((node) => [node.getAttribute('data-figure') ?? '', node.textContent ?? '']),
  );
  const bars = await page.$$eval('#chart rect[data-class]', (nodes) =>
    nodes.map((bar) => [
      `${bar.getAttribute('data-hour')} ${bar.getAttribute('data-class')}`,
      Number(bar.getAttribute('data-count')),
    ]),
  );
  const latest = page.locator('#recent li').first();
  return {
    figures: Object.fromEntries(figures),
    chart: Object.fromEntries(bars.sort()),
    latest: {
      callId: await latest.getAttribute('data-call-id'),
      decision: await latest.getAttribute('data-decision'),
    },
  };
}

describe('the wallboard in a browser', () => {
  it('says in one line what to install when there is no Chromium', () => {
    expect(() => findChromium('', [])).toThrow(/^the browser tests need Chromium: apt-get install chromium/);
  });

  it('shows the day as PostgreSQL has it, pushed live during a replay, signed in with a supervisor key', async () => {
    const executablePath = findChromium();
    database = await createTestDatabase();
    prefix = testRedisPrefix('wallboard');
    const traffic = parseTraffic(TRAFFIC);
    expect(traffic.problems).toEqual([]);
    // The replayed morning starts at 08:00 today, local time, so "today" holds all of it.
    const morning = localDay(Date.now(), TIME_ZONE).from.getTime() + 8 * 3600_000;
    const rate = 30;
    replay = await startReplay({
      rate,
      takers: 2,
      takerAnswerSeconds: 2,
      databaseUrl: database.url,
      redisUrl: testRedisUrl(),
      redisPrefix: prefix,
      logLevel: 'silent',
      clockOrigin: morning - 10 * 60_000,
    });
    const keys = createApiKeyRepository(replay.db);
    const supervisorKey = (await keys.create({ name: 'wall screen', role: 'supervisor', createdBy: 'test' }))
      .key;
    const takerKey = (
      await keys.create({ name: 'desk', role: 'call-taker', takerId: 'taker1', createdBy: 'test' })
    ).key;

    browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
    const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    await page.goto(`${replay.api}/wallboard?timeZone=${TIME_ZONE}`);

    // No session yet: the page asks for a key; a call taker's is refused, a supervisor's taken.
    await page.locator('#sign-in').waitFor({ state: 'visible' });
    await page.fill('#key', takerKey);
    await page.click('#sign-in button[type=submit]');
    await expect.poll(() => page.textContent('#sign-in-error')).toContain('not a supervisor key');
    await page.fill('#key', supervisorKey);
    await page.click('#sign-in button[type=submit]');
    await page.locator('#status[data-status="live"]').waitFor();
    await page.locator('#sign-in').waitFor({ state: 'hidden' });
    // A mark that a reload would wipe.
    await page.evaluate('window.stillTheSamePage = true');

    const run = replay.run(traffic.calls, { startAt: morning });
    // While the calls come in, the page shows a call taker talking, without being asked.
    await page.locator('.taker[data-state="on-call"]').first().waitFor({ timeout: 60_000 });
    const outcomes = await run;
    expect(outcomes.filter((o) => o.disposition === null)).toEqual([]);

    const day = localDay(replay.clock.now(), TIME_ZONE);
    expect(await page.getAttribute('#day', 'data-day')).toBe(day.date);
    const expected = await expectedScreen(database.db, day);
    expect(Number(expected.figures.offered)).toBe(traffic.calls.length);
    // The last verdicts and records land a moment after the calls: the page catches up by push.
    await eventually(
      async () => {
        expect(await screen(page)).toEqual(expected);
        return true;
      },
      'the screen to show what the records hold',
      20_000,
    );
    expect(await page.getAttribute('#waiting-count', 'data-waiting-count')).toBe('0');
    expect(await page.$$eval('.taker', (rows) => rows.map((row) => row.getAttribute('data-taker')))).toEqual([
      'taker1',
      'taker2',
    ]);
    expect(await page.evaluate('window.stillTheSamePage')).toBe(true);
    expect(problems).toEqual([]);

    await mkdir(new URL('.', SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT.pathname });

    // The link the demo prints: the key in the fragment is exchanged and wiped from the address bar.
    const fresh = await browser.newPage();
    await fresh.goto(`${replay.api}/wallboard?timeZone=${TIME_ZONE}#key=${supervisorKey}`);
    await fresh.locator('#status[data-status="live"]').waitFor();
    expect(fresh.url()).toBe(`${replay.api}/wallboard?timeZone=${TIME_ZONE}`);
    await expect.poll(() => fresh.textContent('[data-figure="offered"]')).toBe(expected.figures.offered);
  }, 180_000);
});
