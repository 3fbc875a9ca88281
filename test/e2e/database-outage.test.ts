import { afterEach, describe, expect, inject, it } from 'vitest';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';
import { type CallCenterUnderTest, eventually, startCallCenter } from './call-center-harness.ts';

let center: CallCenterUnderTest | undefined;
let proxy: TcpProxy | undefined;
afterEach(async () => {
  await center?.close();
  await proxy?.close();
  center = undefined;
  proxy = undefined;
});

describe('Postgres away while calls are handled', () => {
  it('takes every call and writes every record exactly once when the database returns', async () => {
    const server = new URL(inject('postgresUrl'));
    proxy = await startTcpProxy({ host: server.hostname, port: Number(server.port || 5432) });
    const viaProxy = proxy;
    center = await startCallCenter({ takers: 1, databaseUrl: (url) => viaProxy.url(url) });
    center.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 20, hangupAfterMs: 100 });
    await center.makeAvailable('taker1');
    const countRows = async () =>
      Number(
        (
          await center!.database.db
            .selectFrom('calls')
            .select((eb) => eb.fn.countAll().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );

    proxy.cut();
    const callers = Array.from({ length: 8 }, (_, i) => `0812000000${String(i).padStart(2, '0')}`);
    for (const from of callers) {
      const call = center.emulator.placeCall({ from });
      await call.ended;
    }
    // Every call was answered by a person although the database was away; none is recorded yet.
    expect(await countRows()).toBe(0);

    proxy.restore();
    // Each call's updates are separate jobs retried on their own backoff: a later snapshot can
    // land before an earlier one's events. Wait for all of them, not just the final rows.
    await eventually(
      async () => {
        const rows = await center!.database.db.selectFrom('calls').selectAll().execute();
        if (rows.length !== callers.length || rows.some((r) => r.disposition === null)) return false;
        const backlog = await center!.service.recordBacklog();
        return backlog.waiting + backlog.active + backlog.delayed === 0;
      },
      'every record and event written after the database returned',
      30_000,
    );

    const rows = await center.database.db.selectFrom('calls').selectAll().orderBy('arrived_at').execute();
    expect(rows.map((r) => r.caller_number)).toEqual(callers.map((c) => `+62${c.slice(1)}`));
    for (const row of rows) {
      expect(row).toMatchObject({ disposition: 'connected', ended_by: 'taker', taker_id: 'taker1' });
      const events = await center.calls.listCallEvents(row.id);
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
      expect(events.filter((e) => e.type === 'ended')).toHaveLength(1);
    }
  });
});
