import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CallCenterUnderTest,
  eventually,
  startCallCenter,
  untilBridged,
} from './call-center-harness.ts';

let center: CallCenterUnderTest;
beforeAll(async () => {
  center = await startCallCenter({ takers: 1 });
});
afterAll(async () => {
  await center.close();
});

/**
 * One sample line: `name{label="value",…} value`. prom-client writes NaN as `Nan` (an event-loop
 * lag not yet measured); Prometheus reads its values with Go's ParseFloat, which ignores the case.
 */
const SAMPLE =
  /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*"(,[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*")*\})? (-?[0-9.e+-]+|[+-]Inf|NaN|Nan)$/;

/** The scrape, each sample line checked against the Prometheus text format; sample → value. */
async function scrape(): Promise<Map<string, number>> {
  const reply = await center.service.app.inject({ method: 'GET', url: '/metrics' });
  expect(reply.statusCode).toBe(200);
  expect(reply.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  const samples = new Map<string, number>();
  for (const line of reply.body.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    expect(line).toMatch(SAMPLE);
    const cut = line.lastIndexOf(' ');
    samples.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return samples;
}

describe('GET /metrics', () => {
  it('counts a connected and an abandoned call, and shows the takers, the queue, ARI and the lease', async () => {
    const before = await scrape();
    expect(before.get('siaga112_calls_in_progress')).toBe(0);
    expect(before.get('siaga112_calls_ended_total{disposition="connected"}')).toBe(0);
    expect(before.get('siaga112_call_wait_seconds_count')).toBe(0);
    expect(before.get('siaga112_takers{state="offline"}')).toBe(0);
    // The default process metrics share this instance's registry.
    expect(before.has('process_cpu_user_seconds_total')).toBe(true);
    expect(before.has('nodejs_eventloop_lag_seconds')).toBe(true);

    // A call answered by a taker.
    center.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 100 });
    await center.makeAvailable('taker1');
    const answered = center.emulator.placeCall({ from: '081234567890' });
    await untilBridged(center, answered);
    const during = await scrape();
    expect(during.get('siaga112_calls_in_progress')).toBe(1);
    expect(during.get('siaga112_takers{state="on-call"}')).toBe(1);
    answered.hangup();
    await answered.ended;
    await eventually(
      async () => (await scrape()).get('siaga112_calls_ended_total{disposition="connected"}') === 1,
      'the connected call counted',
    );

    // A call that waits with nobody to take it, and whose caller gives up.
    await center.service.app.inject({
      method: 'PUT',
      url: '/takers/taker1/state',
      payload: { state: 'offline' },
    });
    const abandoned = center.emulator.placeCall({ from: '081298765432' });
    await eventually(async () => (await center.service.queue.waiting()).length === 1, 'the call waiting');
    const waiting = await scrape();
    expect(waiting.get('siaga112_calls_waiting{priority="normal"}')).toBe(1);
    expect(waiting.get('siaga112_calls_waiting{priority="urgent"}')).toBe(0);
    expect(waiting.get('siaga112_calls_waiting{priority="low"}')).toBe(0);
    abandoned.hangup();
    await abandoned.ended;
    const after = await eventually(async () => {
      const samples = await scrape();
      return samples.get('siaga112_calls_ended_total{disposition="abandoned"}') === 1 ? samples : undefined;
    }, 'the abandoned call counted');

    expect(after.get('siaga112_calls_ended_total{disposition="connected"}')).toBe(1);
    expect(after.get('siaga112_calls_ended_total{disposition="released"}')).toBe(0);
    // Only the answered call has a wait to a person.
    expect(after.get('siaga112_call_wait_seconds_count')).toBe(1);
    expect(after.get('siaga112_call_wait_seconds_bucket{le="+Inf"}')).toBe(1);
    expect(after.get('siaga112_screening_decisions_total{decision="connect"}')).toBe(2);
    // The records of both calls reached Postgres through the record worker, each update timed.
    expect(after.get('siaga112_record_write_lag_seconds_count')).toBeGreaterThanOrEqual(2);
    expect(after.get('siaga112_record_write_lag_seconds_bucket{le="+Inf"}')).toBe(
      after.get('siaga112_record_write_lag_seconds_count'),
    );
    expect(after.get('siaga112_screening_decisions_total{decision="warn-and-release"}')).toBe(0);
    expect(after.get('siaga112_calls_in_progress')).toBe(0);
    expect(after.get('siaga112_calls_waiting{priority="normal"}')).toBe(0);
    expect(after.get('siaga112_takers{state="offline"}')).toBe(1);
    expect(after.get('siaga112_takers{state="available"}')).toBe(0);
    expect(after.get('siaga112_ari_connected')).toBe(1);
    expect(after.get('siaga112_ari_reconnects_total')).toBe(0);
    expect(after.get('siaga112_leader')).toBe(1);
    for (const state of ['waiting', 'active', 'delayed', 'failed']) {
      expect(after.has(`siaga112_record_backlog{state="${state}"}`)).toBe(true);
    }

    await center.makeAvailable('taker1');
    const available = await scrape();
    expect(available.get('siaga112_takers{state="available"}')).toBe(1);
    expect(available.get('siaga112_takers{state="offline"}')).toBe(0);
  });

  it('counts a reconnect of the ARI events socket', async () => {
    center.emulator.dropWebSockets();
    const samples = await eventually(async () => {
      const s = await scrape();
      return s.get('siaga112_ari_reconnects_total') === 1 && s.get('siaga112_ari_connected') === 1
        ? s
        : undefined;
    }, 'the reconnect counted');
    expect(samples.get('siaga112_leader')).toBe(1);
  });

  it('keeps a registry per instance: a second service counts nothing of the first', async () => {
    const standby = await center.startAnotherService();
    const reply = await standby.app.inject({ method: 'GET', url: '/metrics' });
    expect(reply.body).toContain('siaga112_calls_ended_total{disposition="connected"} 0');
    expect(reply.body).toContain('siaga112_leader 0');
    expect(reply.body).toContain('siaga112_ari_connected 0');
  });
});
