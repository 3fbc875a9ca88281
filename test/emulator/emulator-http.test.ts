import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type AsteriskEmulator, startAsteriskEmulator } from '../../src/emulator/asterisk-emulator.ts';
import { ari, type EventStream, openEvents, PASSWORD, USER } from './ari-test-client.ts';

describe('Asterisk emulator: HTTP surface and error answers', () => {
  let emulator: AsteriskEmulator;
  let events: EventStream;

  beforeEach(async () => {
    emulator = await startAsteriskEmulator({
      username: USER,
      password: PASSWORD,
      sounds: { 'sound:beep': 50 },
    });
    emulator.setEndpoint('PJSIP/taker1', { answer: 'never' });
    events = await openEvents(emulator, 'siaga112');
  });

  afterEach(async () => {
    await events.close();
    await emulator.stop();
  });

  it('requires authentication: 401 without or with wrong credentials, basic or api_key accepted', async () => {
    expect(await ari(emulator, 'GET', '/asterisk/ping', { auth: null })).toEqual({
      status: 401,
      body: { message: 'Authentication required' },
    });
    expect((await ari(emulator, 'GET', '/asterisk/ping', { auth: `${USER}:wrong` })).status).toBe(401);
    expect((await ari(emulator, 'GET', '/api-docs/resources.json', { auth: null })).status).toBe(401);
    expect(
      (await ari(emulator, 'GET', `/asterisk/ping?api_key=${USER}:${PASSWORD}`, { auth: null })).status,
    ).toBe(200);
    const ping = await ari(emulator, 'GET', '/asterisk/ping');
    expect(ping.status).toBe(200);
    expect(ping.body).toMatchObject({ ping: 'pong' });
  });

  it('serves the spec with basePath rewritten to the address it was reached at', async () => {
    const listing = await ari(emulator, 'GET', '/api-docs/resources.json');
    expect(listing.body).toMatchObject({ basePath: `${emulator.url}/ari`, swaggerVersion: '1.1' });
    const channels = await ari(emulator, 'GET', '/api-docs/channels.json');
    expect(channels.body).toMatchObject({
      basePath: `${emulator.url}/ari`,
      resourcePath: '/api-docs/channels.{format}',
    });
    expect((await ari(emulator, 'GET', '/api-docs/nothing.json')).status).toBe(404);
  });

  it('answers 404 for routes the spec lacks and 501 for spec operations it does not implement', async () => {
    expect(await ari(emulator, 'GET', '/nothing/here')).toEqual({
      status: 404,
      body: { message: 'Resource not found' },
    });
    expect((await ari(emulator, 'PATCH', '/channels')).status).toBe(405);
    expect(await ari(emulator, 'GET', '/sounds')).toEqual({
      status: 501,
      body: { message: 'Not implemented in the siaga112 emulator' },
    });
  });

  it('rejects parameters that are not of their declared type with 400', async () => {
    const reply = await ari(emulator, 'POST', '/channels?endpoint=PJSIP/taker1&app=siaga112&timeout=soon');
    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({ message: expect.stringContaining('timeout') });
  });

  it('gives Asterisk’s 404 bodies for unknown channels, bridges and playbacks', async () => {
    expect(await ari(emulator, 'POST', '/channels/does-not-exist/answer')).toEqual({
      status: 404,
      body: { message: 'Channel not found' },
    });
    expect(await ari(emulator, 'DELETE', '/channels/does-not-exist')).toEqual({
      status: 404,
      body: { message: 'Channel not found' },
    });
    expect(await ari(emulator, 'POST', '/bridges/does-not-exist/addChannel?channel=x')).toEqual({
      status: 404,
      body: { message: 'Bridge not found' },
    });
    expect(await ari(emulator, 'GET', '/playbacks/does-not-exist')).toEqual({
      status: 404,
      body: { message: 'Playback not found' },
    });
  });

  it('originate to an unknown endpoint fails with 500 Allocation failed', async () => {
    expect(await ari(emulator, 'POST', '/channels?endpoint=PJSIP/nobody&app=siaga112')).toEqual({
      status: 500,
      body: { error: 'Allocation failed' },
    });
  });

  it('originate with an id already in use gives 409', async () => {
    const first = await ari(
      emulator,
      'POST',
      '/channels?endpoint=PJSIP/taker1&app=siaga112&channelId=offer-1',
    );
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ id: 'offer-1', state: 'Down' });
    expect(await ari(emulator, 'POST', '/channels/offer-1?endpoint=PJSIP/taker1&app=siaga112')).toEqual({
      status: 409,
      body: { message: 'Channel with given unique ID already exists' },
    });
  });

  it('play with no media gives 500 Failed to queue media for playback', async () => {
    const call = emulator.placeCall({ from: '081234567890' });
    expect(await ari(emulator, 'POST', `/channels/${call.channelId}/play`)).toEqual({
      status: 500,
      body: { message: 'Failed to queue media for playback' },
    });
  });

  it('channel operations on a channel not in Stasis give 409; addChannel gives 422, unknown channel 400', async () => {
    await ari(emulator, 'POST', '/channels?endpoint=PJSIP/taker1&app=siaga112&channelId=ringing-1');
    await events.next('ChannelStateChange', (e) => (e.channel as { state: string }).state === 'Ringing');
    expect(await ari(emulator, 'POST', '/channels/ringing-1/moh')).toEqual({
      status: 409,
      body: { message: 'Channel not in Stasis application' },
    });
    expect((await ari(emulator, 'POST', '/bridges?type=mixing&bridgeId=b1')).status).toBe(200);
    expect(await ari(emulator, 'POST', '/bridges/b1/addChannel?channel=ringing-1')).toEqual({
      status: 422,
      body: { message: 'Channel not in Stasis application' },
    });
    expect(await ari(emulator, 'POST', '/bridges/b1/addChannel?channel=ghost')).toEqual({
      status: 400,
      body: { message: 'Channel not found' },
    });
    expect((await ari(emulator, 'DELETE', '/bridges/b1')).status).toBe(204);
  });

  it('accepts originate parameters and variables in a JSON body', async () => {
    const reply = await ari(emulator, 'POST', '/channels', {
      body: { endpoint: 'PJSIP/taker1', app: 'siaga112', channelId: 'body-1', variables: { CALL_ID: 'c-1' } },
    });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ id: 'body-1' });
    expect(emulator.violations).toEqual([]);
  });
});
