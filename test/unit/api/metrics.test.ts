import { describe, expect, it } from 'vitest';
import { createMetrics, type MetricsSources } from '../../../src/api/metrics.ts';
import type { AriMessageRejection } from '../../../src/ari/ari-event-parser.ts';
import type { ConnectionState } from '../../../src/ari/ari-port.ts';
import { createLogger } from '../../../src/logger.ts';

function fakeAri() {
  const listeners = new Set<(state: ConnectionState) => void>();
  const ari = {
    connected: false,
    onConnectionChange(listener: (state: ConnectionState) => void) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    set(state: ConnectionState) {
      ari.connected = state === 'connected';
      for (const listener of listeners) listener(state);
    },
  };
  return ari;
}

function sources(overrides: Partial<MetricsSources> = {}): MetricsSources {
  return {
    activeCalls: () => 0,
    waiting: async () => [],
    takers: async () => [],
    recordBacklog: async () => ({ waiting: 0, active: 0, delayed: 0, failed: 0 }),
    leading: () => true,
    ari: fakeAri(),
    logger: createLogger('silent'),
    ...overrides,
  };
}

describe('the service metrics', () => {
  it('serve the rest of a scrape when a Redis read fails or hangs', async () => {
    const metrics = createMetrics(
      sources({
        activeCalls: () => 3,
        waiting: async () => {
          throw new Error('redis away');
        },
        // Never answers (Redis unreachable, a command queued without end).
        recordBacklog: () => new Promise(() => {}),
        readTimeoutMs: 50,
      }),
    );
    const text = await metrics.registry.metrics();
    expect(text).toContain('siaga112_calls_in_progress 3');
    expect(text).toContain('siaga112_takers{state="offline"} 0');
    expect(text).toContain('siaga112_leader 1');
    // The failed gauges are there (HELP, TYPE) with no sample.
    expect(text).toContain('# TYPE siaga112_calls_waiting gauge');
    expect(text).not.toMatch(/^siaga112_calls_waiting\{/m);
    expect(text).not.toMatch(/^siaga112_record_backlog\{/m);
    metrics.close();
  });

  it('drop the samples of a failed read instead of repeating the last ones', async () => {
    let fail = false;
    const metrics = createMetrics(
      sources({
        waiting: async () => {
          if (fail) throw new Error('redis away');
          return [{ callId: 'c1', level: 0, enqueuedAt: 0, category: null }];
        },
      }),
    );
    expect(await metrics.registry.metrics()).toContain('siaga112_calls_waiting{priority="urgent"} 1');
    fail = true;
    expect(await metrics.registry.metrics()).not.toMatch(/^siaga112_calls_waiting\{/m);
    metrics.close();
  });

  it('count reconnects, not the first connection', async () => {
    const ari = fakeAri();
    const metrics = createMetrics(sources({ ari }));
    ari.set('connected');
    expect(await metrics.registry.metrics()).toContain('siaga112_ari_reconnects_total 0');
    ari.set('disconnected');
    expect(await metrics.registry.metrics()).toContain('siaga112_ari_connected 0');
    ari.set('connected');
    ari.set('disconnected');
    ari.set('connected');
    const text = await metrics.registry.metrics();
    expect(text).toContain('siaga112_ari_reconnects_total 2');
    expect(text).toContain('siaga112_ari_connected 1');
    metrics.close();
    ari.set('disconnected');
    ari.set('connected');
    expect(await metrics.registry.metrics()).toContain('siaga112_ari_reconnects_total 2');
  });

  it('count the messages on the events socket that were no event, by reason, from 0', async () => {
    const listeners = new Set<(reason: AriMessageRejection) => void>();
    const ari = {
      ...fakeAri(),
      onMessageRejected(listener: (reason: AriMessageRejection) => void) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    };
    const metrics = createMetrics(sources({ ari }));
    const reject = (reason: AriMessageRejection) => {
      for (const listener of listeners) listener(reason);
    };
    reject('not-json');
    reject('invalid-field');
    reject('invalid-field');
    const text = await metrics.registry.metrics();
    expect(text).toContain('siaga112_ari_events_rejected_total{reason="not-json"} 1');
    expect(text).toContain('siaga112_ari_events_rejected_total{reason="invalid-field"} 2');
    expect(text).toContain('siaga112_ari_events_rejected_total{reason="too-large"} 0');
    metrics.close();
    reject('not-json');
    expect(await metrics.registry.metrics()).toContain(
      'siaga112_ari_events_rejected_total{reason="not-json"} 1',
    );
  });

  it('have no AMI metrics without AMI', async () => {
    const metrics = createMetrics(sources());
    expect(await metrics.registry.metrics()).not.toMatch(/siaga112_(ami|trunk)_/);
    metrics.close();
  });

  it('follow AMI: liveness, reconnects and each trunk while known', async () => {
    const listeners = new Set<(connected: boolean) => void>();
    let trunks = new Map<string, boolean>();
    const ami = {
      alive: true,
      trunkReachability: () => trunks,
      onConnectionChange(listener: (connected: boolean) => void) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      set(connected: boolean) {
        ami.alive = connected;
        for (const listener of listeners) listener(connected);
      },
    };
    const metrics = createMetrics(sources({ ami }));
    trunks = new Map([
      ['telkomsel', true],
      ['indosat', false],
    ]);
    let text = await metrics.registry.metrics();
    expect(text).toContain('siaga112_ami_connected 1');
    expect(text).toContain('siaga112_trunk_reachable{trunk="telkomsel"} 1');
    expect(text).toContain('siaga112_trunk_reachable{trunk="indosat"} 0');
    expect(text).toContain('siaga112_ami_reconnects_total 0');
    // AMI down: trunks unknown, so no sample at all rather than the last one.
    ami.set(false);
    trunks = new Map();
    text = await metrics.registry.metrics();
    expect(text).toContain('siaga112_ami_connected 0');
    expect(text).toContain('# TYPE siaga112_trunk_reachable gauge');
    expect(text).not.toMatch(/^siaga112_trunk_reachable\{/m);
    ami.set(true);
    trunks = new Map([
      ['telkomsel', false],
      ['indosat', false],
    ]);
    text = await metrics.registry.metrics();
    expect(text).toContain('siaga112_ami_reconnects_total 1');
    expect(text).toContain('siaga112_trunk_reachable{trunk="telkomsel"} 0');
    metrics.close();
    expect(listeners.size).toBe(0);
  });
});
