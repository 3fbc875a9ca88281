import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AMI_VERSION } from '../../src/emulator/ami-server.ts';
import { type AsteriskEmulator, startAsteriskEmulator } from '../../src/emulator/asterisk-emulator.ts';
import { type AmiTestClient, event, get, openAmi, response } from './ami-test-client.ts';
import { PASSWORD, USER } from './ari-test-client.ts';

const AMI_USER = 'siaga112-ami';
const AMI_SECRET = 'ami-secret';

describe('Asterisk emulator: AMI over TCP as manager.c speaks it', () => {
  let emulator: AsteriskEmulator;
  const clients: AmiTestClient[] = [];

  const open = async (): Promise<AmiTestClient> => {
    const ami = emulator.ami!;
    const client = await openAmi(ami.host, ami.port);
    clients.push(client);
    return client;
  };
  const login = async (client: AmiTestClient, extra: Record<string, string> = {}) => {
    client.send({ Action: 'Login', Username: AMI_USER, Secret: AMI_SECRET, ActionID: 'login-1', ...extra });
    return client.next(response('login-1'));
  };

  beforeEach(async () => {
    emulator = await startAsteriskEmulator({
      username: USER,
      password: PASSWORD,
      ami: { username: AMI_USER, secret: AMI_SECRET },
    });
    emulator.setEndpoint('PJSIP/taker1', { answer: 'never' });
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await emulator.stop();
  });

  it('greets, refuses actions before login and closes the session on a failed login', async () => {
    const client = await open();
    expect(await client.banner).toBe(`Asterisk Call Manager/${AMI_VERSION}`);
    client.send({ Action: 'Ping', ActionID: 'p-0' });
    expect(await client.next(response('p-0'))).toEqual([
      ['Response', 'Error'],
      ['ActionID', 'p-0'],
      ['Message', 'Permission denied'],
    ]);
    client.send({ Action: 'Login', Username: AMI_USER, Secret: 'wrong', ActionID: 'bad' });
    expect(await client.next(response('bad'))).toEqual([
      ['Response', 'Error'],
      ['ActionID', 'bad'],
      ['Message', 'Authentication failed'],
    ]);
    await client.closed;
  });

  it('logs in, answers Ping, unknown actions and Logoff', async () => {
    const client = await open();
    expect(await login(client)).toEqual([
      ['Response', 'Success'],
      ['ActionID', 'login-1'],
      ['Message', 'Authentication accepted'],
    ]);
    await client.next(event('FullyBooted', { Status: 'Fully Booted' }));
    client.send({ action: 'ping', actionid: 'p-1' });
    const pong = await client.next(response('p-1'));
    expect(get(pong, 'Ping')).toBe('Pong');
    expect(get(pong, 'Timestamp')).toMatch(/^\d+\.\d{6}$/);
    client.send({ Action: 'Teleport', ActionID: 't-1' });
    expect(get(await client.next(response('t-1')), 'Message')).toBe(
      'Invalid/unknown command: Teleport. Use Action: ListCommands to show available commands.',
    );
    client.send({ ActionID: 'none' });
    expect(get(await client.next(response('none')), 'Message')).toBe('Missing action in request');
    client.send({ Action: 'Logoff', ActionID: 'bye' });
    expect(await client.next(response('bye'))).toEqual([
      ['Response', 'Goodbye'],
      ['ActionID', 'bye'],
      ['Message', 'Thanks for all the fish.'],
    ]);
    await client.closed;
  });

  it('lists contacts with PJSIPShowContacts as an event list', async () => {
    emulator.setEndpoint('PJSIP/taker2', { answer: 'never' });
    emulator.setEndpointReachable('PJSIP/taker2', false);
    const client = await open();
    await login(client, { Events: 'off' });
    client.send({ Action: 'PJSIPShowContacts', ActionID: 'c-1' });
    expect(await client.next(response('c-1'))).toEqual([
      ['Response', 'Success'],
      ['ActionID', 'c-1'],
      ['EventList', 'start'],
      ['Message', 'A listing of Contacts follows, presented as ContactList events'],
    ]);
    const complete = await client.next(event('ContactListComplete'));
    expect(complete).toEqual([
      ['Event', 'ContactListComplete'],
      ['ActionID', 'c-1'],
      ['EventList', 'Complete'],
      ['ListItems', '2'],
    ]);
    const [first, second] = client.messages.filter(event('ContactList'));
    expect(get(first!, 'ActionID')).toBe('c-1');
    expect(get(first!, 'ObjectName')).toMatch(/^taker1;@[0-9a-f]{32}$/);
    expect(get(first!, 'Endpoint')).toBe('taker1');
    expect(get(first!, 'Uri')).toMatch(/^sip:taker1@/);
    expect(get(first!, 'Status')).toBe('Reachable');
    expect(Number(get(first!, 'RoundtripUsec'))).toBeGreaterThan(0);
    expect(get(second!, 'Status')).toBe('Unreachable');
    expect(get(second!, 'RoundtripUsec')).toBe('N/A');
    // Events: off at login: no FullyBooted, no ContactStatus.
    emulator.setEndpointReachable('PJSIP/taker1', false);
    client.send({ Action: 'Ping', ActionID: 'p-2' });
    await client.next(response('p-2'));
    expect(
      client.messages.filter((m) => get(m, 'Event') === 'FullyBooted' || get(m, 'Event') === 'ContactStatus'),
    ).toEqual([]);
  });

  it('answers "No Contacts found" when no phone is registered', async () => {
    emulator.removeEndpoint('PJSIP/taker1');
    const client = await open();
    await login(client);
    client.send({ Action: 'PJSIPShowContacts', ActionID: 'c-2' });
    expect(await client.next(response('c-2'))).toEqual([
      ['Response', 'Error'],
      ['ActionID', 'c-2'],
      ['Message', 'No Contacts found'],
    ]);
  });

  it('sends PeerStatus and ContactStatus to logged-in sessions when a phone flips', async () => {
    const client = await open();
    const anonymous = await open();
    await login(client);
    emulator.setEndpointReachable('PJSIP/taker1', false);
    const unreachable = await client.next(event('ContactStatus', { ContactStatus: 'Unreachable' }));
    expect(unreachable).toEqual([
      ['Event', 'ContactStatus'],
      ['Privilege', 'system,all'],
      ['URI', expect.stringMatching(/^sip:taker1@/)],
      ['ContactStatus', 'Unreachable'],
      ['AOR', 'taker1'],
      ['EndpointName', 'taker1'],
      ['RoundtripUsec', '0'],
    ]);
    expect(await client.next(event('PeerStatus'))).toEqual([
      ['Event', 'PeerStatus'],
      ['Privilege', 'system,all'],
      ['ChannelType', 'PJSIP'],
      ['Peer', 'PJSIP/taker1'],
      ['PeerStatus', 'Unreachable'],
    ]);
    emulator.setEndpointReachable('PJSIP/taker1', true);
    await client.next(event('ContactStatus', { ContactStatus: 'Reachable' }));
    const statuses = client.messages
      .map((m) => get(m, 'Event'))
      .filter((name) => name !== undefined && name !== 'FullyBooted');
    expect(statuses).toEqual(['PeerStatus', 'ContactStatus', 'PeerStatus', 'ContactStatus']);
    expect(anonymous.messages).toEqual([]);
  });

  it('lists a trunk’s static contact with PJSIPShowEndpoint, not with PJSIPShowContacts', async () => {
    emulator.declareTrunk('PJSIP/telkomsel', 'sip:203.0.113.5:5060');
    const client = await open();
    await login(client, { Events: 'off' });
    // Only the phone's registration: static contacts are not in sorcery's contact store.
    client.send({ Action: 'PJSIPShowContacts', ActionID: 'c-3' });
    await client.next(event('ContactListComplete'));
    expect(client.messages.filter(event('ContactList')).map((m) => get(m, 'Endpoint'))).toEqual(['taker1']);

    client.send({ Action: 'PJSIPShowEndpoint', Endpoint: 'PJSIP/telkomsel', ActionID: 'e-1' });
    expect(await client.next(response('e-1'))).toEqual([
      ['Response', 'Success'],
      ['ActionID', 'e-1'],
      ['EventList', 'start'],
      ['Message', 'Following are Events for each object associated with the Endpoint'],
    ]);
    expect(await client.next(event('EndpointDetailComplete'))).toEqual([
      ['Event', 'EndpointDetailComplete'],
      ['ActionID', 'e-1'],
      ['EventList', 'Complete'],
      ['ListItems', '3'],
    ]);
    const detail = await client.next(event('EndpointDetail'));
    expect(get(detail, 'ObjectName')).toBe('telkomsel');
    expect(get(detail, 'DeviceState')).toBe('Not in use');
    expect(get(await client.next(event('AorDetail')), 'ContactsRegistered')).toBe('0');
    const contact = await client.next(event('ContactStatusDetail'));
    expect(get(contact, 'ActionID')).toBe('e-1');
    expect(get(contact, 'AOR')).toBe('telkomsel');
    expect(get(contact, 'URI')).toBe('sip:203.0.113.5:5060');
    expect(get(contact, 'Status')).toBe('Reachable');
    expect(get(contact, 'EndpointName')).toBe('telkomsel');
    expect(get(contact, 'ID')).toMatch(/^telkomsel@@[0-9a-f]{32}$/);
    expect(get(contact, 'CallID')).toBeUndefined();

    emulator.setEndpointReachable('PJSIP/telkomsel', false);
    client.send({ Action: 'PJSIPShowEndpoint', Endpoint: 'telkomsel', ActionID: 'e-2' });
    await client.next(response('e-2'));
    const after = await client.next(
      (m) => get(m, 'Event') === 'ContactStatusDetail' && get(m, 'ActionID') === 'e-2',
    );
    expect(get(after, 'Status')).toBe('Unreachable');
    expect(get(after, 'RoundtripUsec')).toBe('0');
    const offline = await client.next(
      (m) => get(m, 'Event') === 'EndpointDetail' && get(m, 'ActionID') === 'e-2',
    );
    expect(get(offline, 'DeviceState')).toBe('Unavailable');
  });

  it('answers PJSIPShowEndpoint without a name or for an unknown endpoint with an error', async () => {
    const client = await open();
    await login(client, { Events: 'off' });
    client.send({ Action: 'PJSIPShowEndpoint', ActionID: 'e-3' });
    expect(get(await client.next(response('e-3')), 'Message')).toBe(
      'PJSIPShowEndpoint requires an endpoint name',
    );
    client.send({ Action: 'PJSIPShowEndpoint', Endpoint: 'indosat', ActionID: 'e-4' });
    expect(await client.next(response('e-4'))).toEqual([
      ['Response', 'Error'],
      ['ActionID', 'e-4'],
      ['Message', 'Unable to retrieve endpoint indosat'],
    ]);
  });

  it('sends ContactStatus with the trunk’s AOR and endpoint when its static contact stops answering', async () => {
    emulator.declareTrunk('PJSIP/indosat');
    const client = await open();
    await login(client);
    emulator.setEndpointReachable('PJSIP/indosat', false);
    const unreachable = await client.next(event('ContactStatus', { ContactStatus: 'Unreachable' }));
    expect(unreachable).toEqual([
      ['Event', 'ContactStatus'],
      ['Privilege', 'system,all'],
      ['URI', expect.stringMatching(/^sip:198\.51\.100\.\d+:5060$/)],
      ['ContactStatus', 'Unreachable'],
      ['AOR', 'indosat'],
      ['EndpointName', 'indosat'],
      ['RoundtripUsec', '0'],
    ]);
    expect(get(await client.next(event('PeerStatus')), 'Peer')).toBe('PJSIP/indosat');
  });

  it('dropAmiConnections cuts every session', async () => {
    const client = await open();
    await login(client);
    emulator.dropAmiConnections();
    await client.closed;
  });
});
