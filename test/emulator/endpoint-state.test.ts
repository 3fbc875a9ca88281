import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type AsteriskEmulator, startAsteriskEmulator } from '../../src/emulator/asterisk-emulator.ts';
import {
  type AriTestEvent,
  ari,
  channelOf,
  type EventStream,
  openEvents,
  PASSWORD,
  USER,
} from './ari-test-client.ts';

const endpointOf = (event: AriTestEvent) =>
  event.endpoint as { technology: string; resource: string; state: string; channel_ids: string[] };

describe('Asterisk emulator: endpoints, their state and endpoint subscriptions', () => {
  let emulator: AsteriskEmulator;
  let events: EventStream;

  beforeEach(async () => {
    emulator = await startAsteriskEmulator({ username: USER, password: PASSWORD });
    emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 50 });
    emulator.setEndpoint('PJSIP/taker2', { answer: 'never' });
    events = await openEvents(emulator, 'siaga112');
  });

  afterEach(async () => {
    await events.close();
    await emulator.stop();
    expect(emulator.violations).toEqual([]);
  });

  it('lists endpoints as resource_endpoints.c does, with its 404 answers', async () => {
    const taker1 = { technology: 'PJSIP', resource: 'taker1', state: 'online', channel_ids: [] };
    const taker2 = { ...taker1, resource: 'taker2' };
    expect(await ari(emulator, 'GET', '/endpoints')).toEqual({ status: 200, body: [taker1, taker2] });
    expect(await ari(emulator, 'GET', '/endpoints/PJSIP')).toEqual({ status: 200, body: [taker1, taker2] });
    expect(await ari(emulator, 'GET', '/endpoints/PJSIP/taker1')).toEqual({ status: 200, body: taker1 });
    // The single-endpoint lookup upper-cases the technology; the technology listing does not.
    expect((await ari(emulator, 'GET', '/endpoints/pjsip/taker1')).status).toBe(200);
    expect(await ari(emulator, 'GET', '/endpoints/pjsip')).toEqual({
      status: 404,
      body: { message: 'No Endpoints found - invalid tech pjsip' },
    });
    expect(await ari(emulator, 'GET', '/endpoints/SIP')).toEqual({
      status: 404,
      body: { message: 'No Endpoints found - invalid tech SIP' },
    });
    expect(await ari(emulator, 'GET', '/endpoints/PJSIP/nobody')).toEqual({
      status: 404,
      body: { message: 'Endpoint not found' },
    });
  });

  it('shows a phone’s live channels and the trunk a call arrived on', async () => {
    const call = emulator.placeCall({ from: '081234567890', trunk: 'telkomsel' });
    await events.next('StasisStart');
    const taker = await ari(emulator, 'POST', '/channels/taker-leg?endpoint=PJSIP/taker2&app=siaga112');
    expect(taker.status).toBe(200);
    expect((await ari(emulator, 'GET', '/endpoints/PJSIP/taker2')).body).toMatchObject({
      channel_ids: ['taker-leg'],
    });
    expect((await ari(emulator, 'GET', '/endpoints/PJSIP/telkomsel')).body).toEqual({
      technology: 'PJSIP',
      resource: 'telkomsel',
      state: 'online',
      channel_ids: [call.channelId],
    });
    await ari(emulator, 'DELETE', '/channels/taker-leg');
    await events.next('ChannelDestroyed', (e) => channelOf(e).id === 'taker-leg');
    expect((await ari(emulator, 'GET', '/endpoints/PJSIP/taker2')).body).toMatchObject({ channel_ids: [] });
    call.hangup();
  });

  it('subscribes and unsubscribes an app to endpoints with Asterisk’s answers', async () => {
    const subscribe = (source: string, app = 'siaga112') =>
      ari(emulator, 'POST', `/applications/${app}/subscription?eventSource=${source}`);
    const unsubscribe = (source: string) =>
      ari(emulator, 'DELETE', `/applications/siaga112/subscription?eventSource=${source}`);

    const subscribed = await subscribe('endpoint:PJSIP/taker1');
    expect(subscribed).toMatchObject({
      status: 200,
      body: { name: 'siaga112', endpoint_ids: ['PJSIP/taker1'] },
    });
    expect(await subscribe('endpoint:PJSIP,endpoint:PJSIP/taker2')).toMatchObject({
      status: 200,
      body: { endpoint_ids: ['PJSIP', 'PJSIP/taker1', 'PJSIP/taker2'] },
    });
    expect((await ari(emulator, 'GET', '/applications/siaga112')).body).toMatchObject({
      endpoint_ids: ['PJSIP', 'PJSIP/taker1', 'PJSIP/taker2'],
    });

    expect(await ari(emulator, 'POST', '/applications/siaga112/subscription')).toEqual({
      status: 400,
      body: { message: 'Missing parameter eventSource' },
    });
    expect(await subscribe('endpoint:PJSIP/taker1', 'nobody')).toEqual({
      status: 404,
      body: { message: 'Application not found' },
    });
    expect(await subscribe('phone:taker1')).toEqual({
      status: 400,
      body: { message: 'Invalid event source URI scheme' },
    });
    expect(await subscribe('endpoint:PJSIP/nobody')).toEqual({
      status: 422,
      body: { message: 'Event source does not exist' },
    });
    // Endpoint ids are matched exactly: the technology is not upper-cased here.
    expect((await subscribe('endpoint:pjsip/taker1')).status).toBe(422);

    expect(await unsubscribe('endpoint:PJSIP/taker2')).toMatchObject({
      status: 200,
      body: { endpoint_ids: ['PJSIP', 'PJSIP/taker1'] },
    });
    expect(await unsubscribe('endpoint:PJSIP/taker2')).toEqual({
      status: 422,
      body: { message: 'Event source was not subscribed to' },
    });
    expect(await unsubscribe('endpoint:PJSIP,endpoint:PJSIP/taker1')).toMatchObject({
      status: 200,
      body: { endpoint_ids: [] },
    });
  });

  it('sends EndpointStateChange, PeerStatusChange and ContactStatusChange when a phone becomes unreachable and back', async () => {
    await ari(emulator, 'POST', '/applications/siaga112/subscription?eventSource=endpoint:PJSIP/taker1');

    expect(emulator.setEndpointReachable('PJSIP/taker1', false)).toBe(true);
    await events.next('ContactStatusChange');
    expect(events.events.map((e) => e.type)).toEqual([
      'EndpointStateChange',
      'PeerStatusChange',
      'ContactStatusChange',
    ]);
    const [state, peer, contact] = events.events;
    expect(endpointOf(state!)).toEqual({
      technology: 'PJSIP',
      resource: 'taker1',
      state: 'offline',
      channel_ids: [],
    });
    expect(peer!.peer).toEqual({ peer_status: 'Unreachable' });
    expect(contact!.contact_info).toEqual({
      uri: expect.stringMatching(/^sip:taker1@/),
      contact_status: 'Unreachable',
      aor: 'taker1',
      roundtrip_usec: '0',
    });
    expect((await ari(emulator, 'GET', '/endpoints/PJSIP/taker1')).body).toMatchObject({ state: 'offline' });

    // No change, no event; an endpoint the app is not subscribed to stays silent.
    expect(emulator.setEndpointReachable('PJSIP/taker1', false)).toBe(true);
    expect(emulator.setEndpointReachable('PJSIP/taker2', false)).toBe(true);
    expect(emulator.setEndpointReachable('PJSIP/nobody', false)).toBe(false);

    emulator.setEndpointReachable('PJSIP/taker1', true);
    const back = await events.next(
      'ContactStatusChange',
      (e) => (e.contact_info as { contact_status: string }).contact_status === 'Reachable',
    );
    expect(Number((back.contact_info as { roundtrip_usec: string }).roundtrip_usec)).toBeGreaterThan(0);
    expect(events.ofType('EndpointStateChange').map((e) => endpointOf(e).state)).toEqual([
      'offline',
      'online',
    ]);
    expect(events.events.every((e) => endpointOf(e).resource === 'taker1')).toBe(true);
  });

  it('an app subscribed to the technology hears every endpoint of it', async () => {
    await ari(emulator, 'POST', '/applications/siaga112/subscription?eventSource=endpoint:PJSIP');
    emulator.setEndpointReachable('PJSIP/taker2', false);
    const change = await events.next('EndpointStateChange');
    expect(endpointOf(change)).toMatchObject({ resource: 'taker2', state: 'offline' });
  });

  it('originate to a phone with no reachable contact fails with 500 Allocation failed and no channel', async () => {
    emulator.setEndpointReachable('PJSIP/taker1', false);
    expect(await ari(emulator, 'POST', '/channels?endpoint=PJSIP/taker1&app=siaga112')).toEqual({
      status: 500,
      body: { error: 'Allocation failed' },
    });
    expect(await ari(emulator, 'POST', '/channels/c-1?endpoint=PJSIP/taker1&app=siaga112')).toEqual({
      status: 500,
      body: { error: 'Allocation failed' },
    });
    expect(emulator.snapshot().channels).toEqual([]);

    emulator.setEndpointReachable('PJSIP/taker1', true);
    const taker = await ari(emulator, 'POST', '/channels/c-2?endpoint=PJSIP/taker1&app=siaga112');
    expect(taker.status).toBe(200);
    await events.next('StasisStart', (e) => channelOf(e).id === 'c-2');
    expect(events.events.filter((e) => e.type.startsWith('Endpoint') || e.type === 'ChannelCreated')).toEqual(
      [],
    );
    await ari(emulator, 'DELETE', '/channels/c-2');
  });

  it('forwards the channel events of a subscribed endpoint to another app, from ChannelCreated on', async () => {
    const supervisor = await openEvents(emulator, 'supervisor');
    try {
      await ari(emulator, 'POST', '/applications/supervisor/subscription?eventSource=endpoint:PJSIP/taker1');
      await ari(emulator, 'POST', '/channels/t-1?endpoint=PJSIP/taker1&app=siaga112');
      await events.next('StasisStart', (e) => channelOf(e).id === 't-1');
      await ari(emulator, 'DELETE', '/channels/t-1');
      await supervisor.next('ChannelDestroyed');
      await supervisor.next('EndpointStateChange', (e) => endpointOf(e).channel_ids.length === 0);
      expect(supervisor.events.map((e) => e.type)).toEqual([
        'ChannelCreated',
        'EndpointStateChange',
        'ChannelStateChange',
        'Dial',
        'Dial',
        'ChannelStateChange',
        'ChannelHangupRequest',
        'ChannelDestroyed',
        'EndpointStateChange',
      ]);
      expect(endpointOf(supervisor.events[1]!).channel_ids).toEqual(['t-1']);
      // The owning app never hears ChannelCreated: it subscribes once the channel exists.
      expect(events.ofType('ChannelCreated')).toEqual([]);
    } finally {
      await supervisor.close();
    }
  });

  it('keeps an app’s subscriptions across a WebSocket drop, as Asterisk keeps the app', async () => {
    await ari(emulator, 'POST', '/applications/siaga112/subscription?eventSource=endpoint:PJSIP/taker1');
    emulator.dropWebSockets();
    emulator.setEndpointReachable('PJSIP/taker1', false);
    const again = await openEvents(emulator, 'siaga112');
    try {
      expect((await ari(emulator, 'GET', '/applications/siaga112')).body).toMatchObject({
        endpoint_ids: ['PJSIP/taker1'],
      });
      emulator.setEndpointReachable('PJSIP/taker1', true);
      // Only the change after the reconnect arrives: Asterisk does not replay missed events.
      await again.next('ContactStatusChange');
      expect(again.ofType('EndpointStateChange').map((e) => endpointOf(e).state)).toEqual(['online']);
    } finally {
      await again.close();
    }
  });
});
