import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { InboundCall } from '../../../src/emulator/asterisk-emulator.ts';
import { CallQueue } from '../../../src/queues/call-queue.ts';
import { closeAfterTest, killAfterTest } from '../../support/after-test.ts';
import { startTcpProxy } from '../../support/tcp-proxy.ts';
import { eventually, startCallCenter, untilBridged } from '../call-center-harness.ts';
import { type ServiceProcess, startServiceProcess } from './service-process.ts';

/**
 * A call center whose call control runs in child processes of `src/main.ts`; all of it (the
 * processes first) is stopped when the test ends.
 */
async function startProcesses(env: Record<string, string> = {}) {
  const c = closeAfterTest(
    await startCallCenter({ takers: 3, env: { LEADER_LEASE_MS: '1000', ...env } }),
    (center) => center.close(),
  );
  // The in-process instance only prepared the database: the processes own call control.
  await c.service.close();
  const redis = closeAfterTest(new Redis(c.env.REDIS_URL!), (r) => r.disconnect());
  const queue = new CallQueue(redis, {
    prefix: c.redisPrefix,
    leaderId: 'test-observer',
    policy: { agingMs: 0, skillFallbackMs: 0 },
  });
  const spawn = async (instance: string, overrides: Record<string, string> = {}) => {
    return killAfterTest(
      await startServiceProcess(
        { ...c.env, SIAGA_INSTANCE_ID: instance, ...overrides },
        { adminKey: c.adminKey },
      ),
    );
  };
  const makeAvailable = async (child: ServiceProcess, takerId: string) => {
    const reply = await child.request('PUT', `/takers/${takerId}/state`, { state: 'available' });
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
  };
  const record = (call: InboundCall) =>
    c.database.db
      .selectFrom('calls')
      .selectAll()
      .where('caller_channel_id', '=', call.channelId)
      .executeTakeFirst();
  return { c, queue, spawn, makeAvailable, record };
}

describe('siaga112 stopped with SIGTERM', () => {
  it('alone: stops taking calls, leaves waiting and connected calls safe, writes what ended, exits; the next process carries on', async () => {
    const { c, queue, spawn, makeAvailable, record } = await startProcesses();
    c.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 20 });
    c.emulator.setEndpoint('PJSIP/taker3', { answer: 'after', delayMs: 20, hangupAfterMs: 150 });
    const first = await spawn('stopping');
    await first.untilLeading();

    await makeAvailable(first, 'taker1');
    const talking = c.emulator.placeCall({ from: '081200000001' });
    await untilBridged(c, talking, 'the first caller talking to taker1');
    const waiting: InboundCall[] = [];
    for (let i = 2; i <= 5; i++) {
      waiting.push(c.emulator.placeCall({ from: `08120000000${i}` }));
      await eventually(
        async () => (await queue.waiting()).length === waiting.length,
        `${i - 1} calls waiting`,
      );
    }
    const leaving = waiting.pop()!;
    const order = (await queue.waiting()).map((w) => w.callId).slice(0, 3);
    const bridge = c.emulator.snapshot().bridges.find((b) => b.channels.includes(talking.channelId))!;

    // A caller hangs up the moment the stop begins: this process must still write that record.
    leaving.hangup();
    first.kill('SIGTERM');
    expect(await first.exited).toEqual({ code: 0, signal: null });
    expect(first.log.some((line) => line.includes('"msg":"stopping"'))).toBe(true);
    const ended = await record(leaving);
    expect(ended).toMatchObject({ disposition: 'abandoned', ended_by: 'caller' });
    const endedEvents = await c.calls.listCallEvents(ended!.id);
    expect(endedEvents.filter((e) => e.type === 'ended')).toHaveLength(1);

    // Nothing was dropped: the connected call is still bridged, the waiting ones wait in order.
    expect(c.emulator.snapshot().bridges.find((b) => b.id === bridge.id)?.channels).toEqual(bridge.channels);
    for (const call of waiting) {
      expect(c.emulator.snapshot().channels.some((ch) => ch.id === call.channelId)).toBe(true);
    }
    expect((await queue.waiting()).map((w) => w.callId)).toEqual(order);
    // No app holds siaga112 now: a new call takes the dialplan fallback (every phone rings).
    expect(c.emulator.placeCall({ from: '081200000009' }).outcome).toBe('fallback');

    const next = await spawn('next');
    await next.untilLeading();
    await makeAvailable(next, 'taker3');
    await Promise.all(waiting.map((call) => call.ended));
    talking.hangup();
    const rows = await eventually(
      async () => {
        const list = await c.database.db.selectFrom('calls').selectAll().execute();
        return list.length === 5 && list.every((row) => row.disposition !== null) ? list : undefined;
      },
      'five finished records',
      30_000,
    );
    const served = await Promise.all(waiting.map(record));
    expect(served.map((row) => [row?.disposition, row?.taker_id])).toEqual([
      ['connected', 'taker3'],
      ['connected', 'taker3'],
      ['connected', 'taker3'],
    ]);
    expect(served.map((row) => row!.id)).toEqual(order);
    expect((await record(talking))?.taker_id).toBe('taker1');
    for (const row of rows) {
      const events = await eventually(async () => {
        const list = await c.calls.listCallEvents(row.id);
        return list.some((e) => e.type === 'ended') ? list : undefined;
      }, `the timeline of ${row.id}`);
      // After the end only the callback's trace (a caller who hung up while waiting is owed one).
      const types = events.map((e) => e.type);
      expect(types.slice(types.indexOf('ended') + 1).filter((t) => !t.startsWith('callback-'))).toEqual([]);
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
      expect(events.filter((e) => e.type === 'ended')).toHaveLength(1);
    }
    expect(c.emulator.violations).toEqual([]);
  }, 120_000);

  it('with a standby: the standby takes call control over at once and serves the waiting callers in order', async () => {
    const { c, queue, spawn, makeAvailable, record } = await startProcesses({ LEADER_LEASE_MS: '3000' });
    c.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 20 });
    c.emulator.setEndpoint('PJSIP/taker2', { answer: 'after', delayMs: 20, hangupAfterMs: 150 });
    const leader = await spawn('leader');
    await leader.untilLeading();
    const standby = await spawn('standby');
    expect((await standby.request('GET', '/ready')).status).toBe(503);

    await makeAvailable(leader, 'taker1');
    const talking = c.emulator.placeCall({ from: '081200000001' });
    await untilBridged(c, talking, 'the first caller talking to taker1');
    const waiting: InboundCall[] = [];
    for (let i = 2; i <= 4; i++) {
      waiting.push(c.emulator.placeCall({ from: `08120000000${i}` }));
      await eventually(
        async () => (await queue.waiting()).length === waiting.length,
        `${i - 1} calls waiting`,
      );
    }
    const order = (await queue.waiting()).map((w) => w.callId);

    leader.kill('SIGTERM');
    // The lease is given back, not left to lapse: the standby holds call control well within it.
    await standby.untilLeading();
    expect(await leader.exited).toEqual({ code: 0, signal: null });
    const later = c.emulator.placeCall({ from: '081200000005' });
    expect(later.outcome).toBe('stasis');

    await makeAvailable(standby, 'taker2');
    await Promise.all([...waiting, later].map((call) => call.ended));
    talking.hangup();
    await eventually(
      async () => {
        const list = await c.database.db.selectFrom('calls').selectAll().execute();
        return list.length === 5 && list.every((row) => row.disposition !== null);
      },
      'five finished records',
      30_000,
    );
    const served = await Promise.all([...waiting, later].map(record));
    expect(served.map((row) => [row?.disposition, row?.taker_id])).toEqual([
      ['connected', 'taker2'],
      ['connected', 'taker2'],
      ['connected', 'taker2'],
      ['connected', 'taker2'],
    ]);
    expect(served.slice(0, 3).map((row) => row!.id)).toEqual(order);
    expect(await record(talking)).toMatchObject({ disposition: 'connected', taker_id: 'taker1' });
    expect(c.emulator.violations).toEqual([]);
  }, 120_000);

  it('with Redis unreachable: a close that cannot finish is cut off after SHUTDOWN_TIMEOUT_SECONDS', async () => {
    const { c, spawn } = await startProcesses();
    const target = new URL(c.env.REDIS_URL!);
    const proxy = closeAfterTest(
      await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) }),
      (p) => p.close(),
    );
    const child = await spawn('stuck', {
      REDIS_URL: proxy.url(c.env.REDIS_URL!),
      SHUTDOWN_TIMEOUT_SECONDS: '2',
    });
    await child.untilLeading();
    proxy.cut();
    child.kill('SIGTERM');
    const exit = await eventually(
      () => (child.hasExited ? child.exited : undefined),
      'the process to exit despite its stuck close',
      30_000,
    );
    expect(exit).toEqual({ code: 1, signal: null });
    expect(child.log.some((line) => line.includes('shutdown did not finish in time'))).toBe(true);
  }, 60_000);
});
