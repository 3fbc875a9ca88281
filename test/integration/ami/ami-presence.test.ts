import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AmiPresence, type AmiPresenceOptions, isAmiError } from '../../../src/ami/ami-presence.ts';
import { type AsteriskEmulator, startAsteriskEmulator } from '../../../src/emulator/asterisk-emulator.ts';
import { createLogger } from '../../../src/logger.ts';

const AMI_USER = 'siaga112';
const AMI_SECRET = 'ami-secret';

interface Flip {
  endpoint: string;
  reachable: boolean;
  status: string;
  uri: string | undefined;
}

/** Resolves when `predicate` holds, polling every 10 ms; rejects after `timeoutMs`. */
async function eventually(predicate: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('AMI presence: softphone reachability through asterisk-manager', () => {
  let emulator: AsteriskEmulator;
  const presences: AmiPresence[] = [];

  const presence = (overrides: Partial<AmiPresenceOptions> = {}): { source: AmiPresence; flips: Flip[] } => {
    const source = new AmiPresence({
      host: emulator.ami!.host,
      port: emulator.ami!.port,
      username: AMI_USER,
      secret: AMI_SECRET,
      logger: createLogger('silent'),
      actionTimeoutMs: 1_000,
      reconnectDelayMs: { min: 20, max: 200 },
      ...overrides,
    });
    presences.push(source);
    const flips: Flip[] = [];
    source.onReachability((endpoint, reachable, detail) =>
      flips.push({ endpoint, reachable, status: detail.status, uri: detail.uri }),
    );
    return { source, flips };
  };

  beforeEach(async () => {
    emulator = await startAsteriskEmulator({
      username: 'ari',
      password: 'ari-secret',
      ami: { username: AMI_USER, secret: AMI_SECRET },
    });
    emulator.setEndpoint('PJSIP/taker1', { answer: 'never' });
    emulator.setEndpoint('PJSIP/taker2', { answer: 'never' });
  });

  afterEach(async () => {
    for (const source of presences.splice(0)) await source.close();
    await emulator.stop();
  });

  it('a refused login rejects start() with auth-failed, naming the user and Asterisk’s reason', async () => {
    const { source } = presence({ secret: 'wrong' });
    const error = await source.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isAmiError(error, 'auth-failed')).toBe(true);
    expect((error as Error).message).toBe("AMI Login: login as 'siaga112' refused: Authentication failed");
    expect(source.connected).toBe(false);
  });

  it('start() rejects with unavailable when nothing answers, and keeps trying', async () => {
    const port = emulator.ami!.port;
    await emulator.stop();
    const { source } = presence({ port, startTimeoutMs: 300 });
    await expect(source.start()).rejects.toMatchObject({ code: 'unavailable' });
    await expect(source.listReachability()).rejects.toMatchObject({ code: 'unavailable' });
  });

  it('lists every phone’s reachability from PJSIPShowContacts', async () => {
    emulator.setEndpointReachable('PJSIP/taker2', false);
    const { source, flips } = presence();
    await source.start();
    expect(source.connected).toBe(true);
    expect(await source.listReachability()).toEqual(
      new Map([
        ['PJSIP/taker1', true],
        ['PJSIP/taker2', false],
      ]),
    );
    // The first listing reports the reachable phone as a change from unknown.
    expect(flips).toEqual([
      {
        endpoint: 'PJSIP/taker1',
        reachable: true,
        status: 'Reachable',
        uri: expect.stringMatching(/^sip:taker1@/),
      },
    ]);
  });

  it('delivers Unreachable and Reachable ContactStatus events as flips', async () => {
    const { source, flips } = presence();
    await source.start();
    flips.length = 0;
    emulator.setEndpointReachable('PJSIP/taker1', false);
    await eventually(() => flips.length === 1, 'the Unreachable flip');
    emulator.setEndpointReachable('PJSIP/taker1', true);
    await eventually(() => flips.length === 2, 'the Reachable flip');
    expect(flips).toEqual([
      {
        endpoint: 'PJSIP/taker1',
        reachable: false,
        status: 'Unreachable',
        uri: expect.stringMatching(/^sip:taker1@/),
      },
      {
        endpoint: 'PJSIP/taker1',
        reachable: true,
        status: 'Reachable',
        uri: expect.stringMatching(/^sip:taker1@/),
      },
    ]);
    emulator.setEndpoint('PJSIP/taker3', { answer: 'never' });
    await eventually(() => flips.length === 3, 'a newly registered phone');
    expect(flips[2]).toMatchObject({ endpoint: 'PJSIP/taker3', reachable: true });
  });

  it('reconnects after the connection drops and catches up on what it missed', async () => {
    const { source, flips } = presence();
    const states: boolean[] = [];
    source.onConnectionChange((connected) => states.push(connected));
    await source.start();
    flips.length = 0;
    emulator.dropAmiConnections();
    // Changed while the connection is down: only the listing after the reconnect can tell.
    emulator.setEndpointReachable('PJSIP/taker2', false);
    await eventually(() => states.length === 3 && source.connected, 'the reconnection');
    expect(states).toEqual([true, false, true]);
    await eventually(() => flips.length === 1, 'the missed flip');
    expect(flips[0]).toMatchObject({ endpoint: 'PJSIP/taker2', reachable: false, status: 'Unreachable' });
    emulator.setEndpointReachable('PJSIP/taker1', false);
    await eventually(() => flips.length === 2, 'a flip on the new connection');
    expect(await source.listReachability()).toEqual(
      new Map([
        ['PJSIP/taker1', false],
        ['PJSIP/taker2', false],
      ]),
    );
  });
});

describe('AMI monitoring: Asterisk liveness and operator trunks', () => {
  let emulator: AsteriskEmulator;
  const sources: AmiPresence[] = [];

  const monitor = (trunks: string[], overrides: Partial<AmiPresenceOptions> = {}) => {
    const source = new AmiPresence({
      host: emulator.ami!.host,
      port: emulator.ami!.port,
      username: AMI_USER,
      secret: AMI_SECRET,
      logger: createLogger('silent'),
      actionTimeoutMs: 1_000,
      reconnectDelayMs: { min: 20, max: 200 },
      trunks,
      ...overrides,
    });
    sources.push(source);
    const trunkFlips: Flip[] = [];
    const phoneFlips: string[] = [];
    source.onTrunkReachability((endpoint, reachable, detail) =>
      trunkFlips.push({ endpoint, reachable, status: detail.status, uri: detail.uri }),
    );
    source.onReachability((endpoint) => phoneFlips.push(endpoint));
    return { source, trunkFlips, phoneFlips };
  };

  beforeEach(async () => {
    emulator = await startAsteriskEmulator({
      username: 'ari',
      password: 'ari-secret',
      ami: { username: AMI_USER, secret: AMI_SECRET },
    });
    emulator.setEndpoint('PJSIP/taker1', { answer: 'never' });
    emulator.declareTrunk('PJSIP/telkomsel', 'sip:203.0.113.5:5060');
    emulator.declareTrunk('PJSIP/indosat', 'sip:203.0.113.6:5060');
  });

  afterEach(async () => {
    for (const source of sources.splice(0)) await source.close();
    await emulator.stop();
  });

  it('reads the trunks’ static contacts at start and keeps them apart from the softphones', async () => {
    emulator.setEndpointReachable('PJSIP/indosat', false);
    const { source, trunkFlips, phoneFlips } = monitor(['telkomsel', 'indosat', 'xl']);
    expect(source.trunkReachability()).toEqual(new Map());
    await source.start();
    expect(source.alive).toBe(true);
    expect(source.trunks).toEqual(['telkomsel', 'indosat', 'xl']);
    // xl is not configured in this Asterisk: PJSIPShowEndpoint refuses it, so it is unreachable.
    expect(source.trunkReachability()).toEqual(
      new Map([
        ['telkomsel', true],
        ['indosat', false],
        ['xl', false],
      ]),
    );
    expect(trunkFlips).toEqual([
      { endpoint: 'telkomsel', reachable: true, status: 'Reachable', uri: 'sip:203.0.113.5:5060' },
    ]);
    expect(phoneFlips).toEqual(['PJSIP/taker1']);
    expect(await source.listReachability()).toEqual(new Map([['PJSIP/taker1', true]]));
  });

  it('follows a trunk going Unreachable and back through ContactStatus', async () => {
    const { source, trunkFlips, phoneFlips } = monitor(['telkomsel', 'indosat']);
    await source.start();
    trunkFlips.length = 0;
    phoneFlips.length = 0;
    emulator.setEndpointReachable('PJSIP/telkomsel', false);
    await eventually(() => trunkFlips.length === 1, 'the Unreachable trunk');
    expect(trunkFlips[0]).toEqual({
      endpoint: 'telkomsel',
      reachable: false,
      status: 'Unreachable',
      uri: 'sip:203.0.113.5:5060',
    });
    expect(source.trunkReachability().get('telkomsel')).toBe(false);
    emulator.setEndpointReachable('PJSIP/telkomsel', true);
    await eventually(() => trunkFlips.length === 2, 'the Reachable trunk');
    expect(source.trunkReachability().get('telkomsel')).toBe(true);
    // A trunk is not a softphone: presence never hears of it.
    expect(phoneFlips).toEqual([]);
  });

  it('is not alive while the connection is down, and catches up on a trunk lost meanwhile', async () => {
    const { source, trunkFlips } = monitor(['telkomsel', 'indosat']);
    const aliveAtChange: boolean[] = [];
    const trunksAtChange: number[] = [];
    source.onConnectionChange(() => {
      aliveAtChange.push(source.alive);
      trunksAtChange.push(source.trunkReachability().size);
    });
    await source.start();
    trunkFlips.length = 0;
    emulator.dropAmiConnections();
    // Lost while nobody listens: only PJSIPShowEndpoint after the reconnection can tell.
    emulator.setEndpointReachable('PJSIP/indosat', false);
    await eventually(() => aliveAtChange.length === 3 && source.alive, 'the reconnection');
    expect(aliveAtChange).toEqual([true, false, true]);
    // Unknown (empty) while disconnected, both trunks known again once listed.
    expect(trunksAtChange).toEqual([2, 0, 2]);
    expect(trunkFlips).toEqual([
      { endpoint: 'indosat', reachable: false, status: 'Unreachable', uri: 'sip:203.0.113.6:5060' },
    ]);
    expect(source.trunkReachability()).toEqual(
      new Map([
        ['telkomsel', true],
        ['indosat', false],
      ]),
    );
  });
});

describe('AMI presence against a misbehaving manager', () => {
  let server: Server;
  let port: number;
  const sockets = new Set<Socket>();
  let onLogin: (socket: Socket) => void = () => {};
  let answerPings = true;
  let connections = 0;
  let source: AmiPresence | undefined;

  beforeEach(async () => {
    answerPings = true;
    connections = 0;
    server = createServer((socket) => {
      connections += 1;
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {});
      socket.write('Asterisk Call Manager/11.0.0\r\n');
      let buffer = '';
      socket.on('data', (chunk: Buffer) => {
        buffer += chunk.toString();
        for (let end = buffer.indexOf('\r\n\r\n'); end >= 0; end = buffer.indexOf('\r\n\r\n')) {
          const message = buffer.slice(0, end);
          buffer = buffer.slice(end + 4);
          const action = /^Action: (.*)$/im.exec(message)?.[1]?.toLowerCase();
          const id = /^ActionID: (.*)$/im.exec(message)?.[1] ?? '';
          if (action === 'login') {
            socket.write(`Response: Success\r\nActionID: ${id}\r\nMessage: Authentication accepted\r\n\r\n`);
            onLogin(socket);
          } else if (action === 'pjsipshowcontacts') {
            socket.write(`Response: Error\r\nActionID: ${id}\r\nMessage: No Contacts found\r\n\r\n`);
          } else if (action === 'ping' && answerPings) {
            socket.write(`Response: Success\r\nActionID: ${id}\r\nPing: Pong\r\nTimestamp: 1.000000\r\n\r\n`);
          }
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });

  afterEach(async () => {
    await source?.close();
    source = undefined;
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const start = async (keepAliveMs = 60_000): Promise<AmiPresence> => {
    source = new AmiPresence({
      host: '127.0.0.1',
      port,
      username: 'u',
      secret: 's',
      logger: createLogger('silent'),
      actionTimeoutMs: 300,
      keepAliveMs,
      reconnectDelayMs: { min: 20, max: 100 },
    });
    await source.start();
    return source;
  };

  it('survives garbage, repeated headers and an endless line, and still hears ContactStatus', async () => {
    const flips: string[] = [];
    onLogin = (socket) =>
      setTimeout(() => {
        socket.write('this is not AMI\r\n\u0000\u00ff{"json": true}\r\n\r\n');
        // asterisk-manager 0.2.0 throws on a repeated UserEvent header.
        socket.write('Event: UserEvent\r\nUserEvent: a\r\nUserEvent: b\r\n\r\n');
        socket.write('Event: ContactStatus\r\nURI: sip:x@y\r\nContactStatus: Reachable\r\n\r\n');
        socket.write(
          'Event: ContactStatus\r\nPrivilege: system,all\r\nURI: sip:taker1@192.0.2.1:5060\r\n' +
            'ContactStatus: Reachable\r\nAOR: taker1\r\nEndpointName: taker1\r\nRoundtripUsec: 900\r\n\r\n',
        );
      }, 20);
    const presence = await start();
    presence.onReachability((endpoint, reachable) => flips.push(`${endpoint}:${reachable}`));
    await eventually(() => flips.length === 1, 'the valid ContactStatus');
    expect(flips).toEqual(['PJSIP/taker1:true']);
    // A listing is the truth: this manager has no contacts, so the phone is gone.
    expect(await presence.listReachability()).toEqual(new Map());
    expect(flips).toEqual(['PJSIP/taker1:true', 'PJSIP/taker1:false']);

    const socket = [...sockets][0]!;
    socket.write('x'.repeat(70 * 1024));
    await eventually(
      () => connections === 2 && presence.connected,
      'a new connection after the endless line',
    );
  });

  it('drops a connection whose Ping goes unanswered (half-open) and reconnects', async () => {
    onLogin = () => {};
    const presence = await start(100);
    const aliveAtChange: boolean[] = [];
    presence.onConnectionChange(() => aliveAtChange.push(presence.alive));
    expect(presence.alive).toBe(true);
    answerPings = false;
    await eventually(() => connections >= 2, 'a reconnection after the silent Ping');
    answerPings = true;
    await eventually(() => presence.connected, 'connected again');
    expect(aliveAtChange.slice(0, 2)).toEqual([false, true]);
    expect(presence.alive).toBe(true);
  });
});
