import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Service } from '../../src/service.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';
import { type CallCenterUnderTest, eventually, startCallCenter } from './call-center-harness.ts';

let center: CallCenterUnderTest;
let proxy: TcpProxy;
let service: Service;

beforeAll(async () => {
  center = await startCallCenter({ takers: 1, ami: true });
  center.emulator.declareTrunk('PJSIP/telkomsel', 'sip:203.0.113.5:5060');
  center.emulator.declareTrunk('PJSIP/indosat', 'sip:203.0.113.6:5060');
  // The service's AMI goes through a proxy that can take Asterisk's manager away mid-test.
  proxy = await startTcpProxy(center.emulator.ami!);
  await center.service.close();
  service = await center.startAnotherService({
    AMI_URL: proxy.url(center.env.AMI_URL!),
    TRUNKS: 'telkomsel,indosat',
  });
});

afterAll(async () => {
  await center.close();
  await proxy.close();
});

interface Readiness {
  ready: boolean;
  checks: Record<string, boolean>;
  degraded: string[];
}

async function ready(): Promise<{ status: number; body: Readiness }> {
  const reply = await service.app.inject({ method: 'GET', url: '/ready' });
  return { status: reply.statusCode, body: reply.json() };
}

/** Waits until /ready's checks include `expected`; returns the whole answer. */
function readyWhen(expected: Record<string, boolean>, what: string) {
  return eventually(async () => {
    const answer = await ready();
    return Object.entries(expected).every(([name, ok]) => answer.body.checks[name] === ok)
      ? answer
      : undefined;
  }, what);
}

async function metrics(): Promise<string> {
  const reply = await service.app.inject({ method: 'GET', url: '/metrics' });
  expect(reply.statusCode).toBe(200);
  return reply.body;
}

describe('Asterisk and its trunks watched over AMI', () => {
  it('/ready and /metrics report AMI and every trunk of TRUNKS', async () => {
    const answer = await readyWhen(
      { ari: true, ami: true, 'trunk:telkomsel': true, 'trunk:indosat': true },
      'AMI and both trunks up',
    );
    expect(answer).toEqual({
      status: 200,
      body: {
        ready: true,
        checks: {
          ari: true,
          redis: true,
          postgres: true,
          recording: true,
          ami: true,
          'trunk:telkomsel': true,
          'trunk:indosat': true,
        },
        degraded: [],
      },
    });
    const text = await metrics();
    expect(text).toMatch(/^siaga112_ami_connected 1$/m);
    expect(text).toMatch(/^siaga112_trunk_reachable\{trunk="telkomsel"\} 1$/m);
    expect(text).toMatch(/^siaga112_trunk_reachable\{trunk="indosat"\} 1$/m);
    expect(text).toMatch(/^siaga112_ami_reconnects_total 0$/m);
  });

  it('a trunk whose qualify goes unanswered degrades the instance, which stays ready', async () => {
    center.emulator.setEndpointReachable('PJSIP/indosat', false);
    const answer = await readyWhen({ 'trunk:indosat': false }, 'indosat unreachable');
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ ready: true, degraded: ['trunk:indosat'] });
    expect(await metrics()).toMatch(/^siaga112_trunk_reachable\{trunk="indosat"\} 0$/m);

    center.emulator.setEndpointReachable('PJSIP/indosat', true);
    await readyWhen({ 'trunk:indosat': true }, 'indosat reachable again');
    expect(await metrics()).toMatch(/^siaga112_trunk_reachable\{trunk="indosat"\} 1$/m);

    // Supervisors are told of both, newest first, once each.
    const indosat = await eventually(async () => {
      const reply = await service.app.inject({ method: 'GET', url: '/live/notices' });
      const kinds = (reply.json() as { kind: string; detail?: { trunk?: string } }[])
        .filter((notice) => notice.detail?.trunk === 'indosat')
        .map((notice) => notice.kind);
      return kinds[0] === 'trunk-reachable' ? kinds : undefined;
    }, 'notices of indosat lost and back');
    expect(indosat).toEqual(['trunk-reachable', 'trunk-unreachable']);
  });

  it('AMI cut: not alive, trunks unknown, still ready over ARI; back and counted once reconnected', async () => {
    proxy.cut();
    const down = await readyWhen({ ami: false }, 'AMI down');
    expect(down).toEqual({
      status: 200,
      body: {
        ready: true,
        checks: {
          ari: true,
          redis: true,
          postgres: true,
          recording: true,
          ami: false,
          'trunk:telkomsel': false,
          'trunk:indosat': false,
        },
        degraded: ['ami', 'trunk:telkomsel', 'trunk:indosat'],
      },
    });
    let text = await metrics();
    expect(text).toMatch(/^siaga112_ami_connected 0$/m);
    expect(text).not.toMatch(/^siaga112_trunk_reachable\{/m);

    // A trunk lost while AMI is away is caught up by the listing after the reconnection.
    center.emulator.setEndpointReachable('PJSIP/telkomsel', false);
    proxy.restore();
    const back = await readyWhen({ ami: true }, 'AMI back');
    expect(back.body).toMatchObject({ ready: true, degraded: ['trunk:telkomsel'] });
    text = await metrics();
    expect(text).toMatch(/^siaga112_ami_connected 1$/m);
    expect(text).toMatch(/^siaga112_ami_reconnects_total 1$/m);
    expect(text).toMatch(/^siaga112_trunk_reachable\{trunk="telkomsel"\} 0$/m);
    expect(text).toMatch(/^siaga112_trunk_reachable\{trunk="indosat"\} 1$/m);
  });
});
