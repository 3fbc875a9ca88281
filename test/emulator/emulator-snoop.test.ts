import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type AsteriskEmulator,
  type ChannelCreatedObservation,
  type ChannelDestroyedObservation,
  startAsteriskEmulator,
} from '../../src/emulator/asterisk-emulator.ts';
import {
  type AriTestEvent,
  ari,
  channelOf,
  type EventStream,
  openEvents,
  PASSWORD,
  USER,
} from './ari-test-client.ts';

/** Snoop channels (`POST /channels/{id}/snoop[/{snoopId}]`) as res_ari and app_snoop.c make them. */
describe('Asterisk emulator: snoop channels', () => {
  let emulator: AsteriskEmulator;
  let events: EventStream;
  let created: ChannelCreatedObservation[];
  let destroyed: ChannelDestroyedObservation[];

  beforeEach(async () => {
    emulator = await startAsteriskEmulator({ username: USER, password: PASSWORD, timeScale: 10 });
    events = await openEvents(emulator, 'siaga112');
    created = [];
    destroyed = [];
    emulator.on('channel-created', (o) => created.push(o));
    emulator.on('channel-destroyed', (o) => destroyed.push(o));
  });

  afterEach(async () => {
    await events.close();
    await emulator.stop();
    expect(emulator.violations).toEqual([]);
  });

  const about = (id: string) => (e: AriTestEvent) => (e.channel as { id?: string } | undefined)?.id === id;

  /** A trunk call in Stasis, answered. */
  async function liveCall(): Promise<string> {
    const call = emulator.placeCall({ from: '081234567890' });
    await events.next('StasisStart', about(call.channelId));
    expect((await ari(emulator, 'POST', `/channels/${call.channelId}/answer`)).status).toBe(204);
    return call.channelId;
  }

  it('spy=both gives 200 with a Snoop/<uniqueid>-<n> channel, Up, then StasisStart with the app args', async () => {
    const spied = await liveCall();
    const reply = await ari(
      emulator,
      'POST',
      `/channels/${spied}/snoop/snoop-1?spy=both&app=siaga112&appArgs=supervise,call-7`,
    );
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({
      id: 'snoop-1',
      name: `Snoop/${spied}-00000000`,
      state: 'Up',
      protocol_id: '',
      caller: { name: '', number: '' },
      dialplan: { context: 'default', exten: 's', priority: 1 },
    });
    const start = await events.next('StasisStart', about('snoop-1'));
    expect(start.args).toEqual(['supervise', 'call-7']);
    expect(start.channel).toMatchObject({
      id: 'snoop-1',
      state: 'Up',
      dialplan: { app_name: 'Stasis', app_data: 'siaga112,supervise,call-7' },
    });
    expect(created.find((c) => c.channel.id === 'snoop-1')).toMatchObject({
      kind: 'snoop',
      snoop: { spiedChannelId: spied, spy: 'both', whisper: 'none' },
    });
    expect(emulator.snapshot().channels.map((c) => c.id)).toEqual([spied, 'snoop-1']);
    // The spied channel hears nothing of it.
    expect(events.events.filter(about(spied)).map((e) => e.type)).toEqual([
      'StasisStart',
      'ChannelStateChange',
    ]);
  });

  it('without an id the snoop channel gets a uniqueid and the name counter goes on', async () => {
    const spied = await liveCall();
    const first = await ari(emulator, 'POST', `/channels/${spied}/snoop?spy=in&whisper=out&app=siaga112`);
    const second = await ari(emulator, 'POST', `/channels/${spied}/snoop?whisper=both&app=siaga112`);
    expect(first).toMatchObject({ status: 200, body: { name: `Snoop/${spied}-00000000` } });
    expect(second).toMatchObject({ status: 200, body: { name: `Snoop/${spied}-00000001` } });
    const firstId = (first.body as { id: string }).id;
    expect(firstId).toMatch(/^\d+\.\d+$/);
    expect((await events.next('StasisStart', about(firstId))).args).toEqual([]);
    expect(created.filter((c) => c.kind === 'snoop').map((c) => c.snoop)).toEqual([
      { spiedChannelId: spied, spy: 'in', whisper: 'out' },
      { spiedChannelId: spied, spy: 'none', whisper: 'both' },
    ]);
  });

  it('bridges with an originated supervisor phone, and DELETE ends it with StasisEnd and ChannelDestroyed', async () => {
    emulator.setEndpoint('PJSIP/supervisor1', { answer: 'after', delayMs: 10 });
    const spied = await liveCall();
    await ari(emulator, 'POST', `/channels/${spied}/snoop/snoop-1?spy=both&whisper=out&app=siaga112`);
    await events.next('StasisStart', about('snoop-1'));
    await ari(emulator, 'POST', '/channels?endpoint=PJSIP/supervisor1&app=siaga112&channelId=sup-leg');
    await events.next('StasisStart', about('sup-leg'));
    expect((await ari(emulator, 'POST', '/bridges/listen?type=mixing')).status).toBe(200);
    expect((await ari(emulator, 'POST', '/bridges/listen/addChannel?channel=snoop-1,sup-leg')).status).toBe(
      204,
    );
    expect(await events.next('ChannelEnteredBridge', about('snoop-1'))).toMatchObject({
      bridge: { id: 'listen', channels: ['snoop-1'] },
    });
    expect(await events.next('ChannelEnteredBridge', about('sup-leg'))).toMatchObject({
      bridge: { id: 'listen', channels: ['snoop-1', 'sup-leg'] },
    });
    expect(await ari(emulator, 'GET', '/bridges/listen')).toMatchObject({
      status: 200,
      body: { channels: ['snoop-1', 'sup-leg'] },
    });

    expect((await ari(emulator, 'DELETE', '/channels/snoop-1')).status).toBe(204);
    await events.next('ChannelDestroyed', about('snoop-1'));
    const forSnoop = events.events.filter(about('snoop-1')).map((e) => e.type);
    expect(forSnoop.slice(-4)).toEqual([
      'ChannelHangupRequest',
      'ChannelLeftBridge',
      'StasisEnd',
      'ChannelDestroyed',
    ]);
    // The spied call goes on.
    expect(
      emulator
        .snapshot()
        .channels.map((c) => c.id)
        .sort(),
    ).toEqual([spied, 'sup-leg'].sort());
    expect(destroyed.map((d) => [d.channelId, d.kind])).toEqual([['snoop-1', 'snoop']]);
  });

  it('ends when the spied channel hangs up: StasisEnd and ChannelDestroyed, no hangup request', async () => {
    emulator.setEndpoint('PJSIP/supervisor1', { answer: 'after', delayMs: 10 });
    const call = emulator.placeCall({ from: '081234567890' });
    await events.next('StasisStart', about(call.channelId));
    await ari(emulator, 'POST', `/channels/${call.channelId}/answer`);
    await ari(emulator, 'POST', `/channels/${call.channelId}/snoop/snoop-1?spy=both&app=siaga112`);
    await events.next('StasisStart', about('snoop-1'));
    await ari(emulator, 'POST', '/channels?endpoint=PJSIP/supervisor1&app=siaga112&channelId=sup-leg');
    await events.next('StasisStart', about('sup-leg'));
    await ari(emulator, 'POST', '/bridges/listen?type=mixing');
    await ari(emulator, 'POST', '/bridges/listen/addChannel?channel=snoop-1,sup-leg');
    await events.next('ChannelEnteredBridge', about('snoop-1'));

    call.hangup();
    const gone = await events.next('ChannelDestroyed', about('snoop-1'));
    expect(gone).toMatchObject({ cause: 0, cause_txt: 'Unknown' });
    const forSnoop = events.events.filter(about('snoop-1')).map((e) => e.type);
    expect(forSnoop.slice(-3)).toEqual(['ChannelLeftBridge', 'StasisEnd', 'ChannelDestroyed']);
    expect(forSnoop).not.toContain('ChannelHangupRequest');
    // The spied channel ended first.
    const types = events.events.map((e) => `${e.type}:${(e.channel as { id?: string } | undefined)?.id}`);
    expect(types.indexOf(`StasisEnd:${call.channelId}`)).toBeLessThan(types.indexOf('StasisEnd:snoop-1'));
    // The supervisor stays, alone in the bridge.
    expect(emulator.snapshot().channels.map((c) => c.id)).toEqual(['sup-leg']);
    expect(emulator.snapshot().bridges).toMatchObject([{ id: 'listen', channels: ['sup-leg'] }]);
    expect(destroyed.find((d) => d.channelId === 'snoop-1')).toMatchObject({ kind: 'snoop', cause: 0 });
    expect(await ari(emulator, 'DELETE', '/channels/snoop-1')).toEqual({
      status: 404,
      body: { message: 'Channel not found' },
    });
  });

  it('answers 404 for an unknown channel', async () => {
    for (const path of [
      '/channels/nope/snoop?spy=both&app=siaga112',
      '/channels/nope/snoop/s1?spy=both&app=siaga112',
    ]) {
      expect(await ari(emulator, 'POST', path)).toEqual({
        status: 404,
        body: { message: 'Provided channel was not found' },
      });
    }
    expect(created).toEqual([]);
  });

  it('answers 400 for no direction, a bad direction or no app, in Asterisk order, creating nothing', async () => {
    const spied = await liveCall();
    const cases: [string, string][] = [
      ['spy=none&whisper=none&app=siaga112', 'Direction must be specified for at least spy or whisper'],
      ['app=siaga112', 'Direction must be specified for at least spy or whisper'],
      ['spy=sideways&app=siaga112', 'Invalid direction specified for spy'],
      ['spy=both&whisper=loud&app=siaga112', 'Invalid direction specified for whisper'],
      ['spy=both', 'Application name is required'],
    ];
    for (const [query, message] of cases) {
      expect(await ari(emulator, 'POST', `/channels/${spied}/snoop/s1?${query}`), query).toEqual({
        status: 400,
        body: { message },
      });
    }
    // The parameters are checked before the channel is looked up.
    expect(await ari(emulator, 'POST', '/channels/nope/snoop?spy=none&app=siaga112')).toMatchObject({
      status: 400,
    });
    expect(created.filter((c) => c.kind === 'snoop')).toEqual([]);
  });

  it('refuses a snoop id already in use (500) and ends a snoop whose app is not connected', async () => {
    const spied = await liveCall();
    expect(await ari(emulator, 'POST', `/channels/${spied}/snoop/${spied}?spy=both&app=siaga112`)).toEqual({
      status: 500,
      body: { message: 'Snoop channel could not be created' },
    });
    const orphan = await ari(emulator, 'POST', `/channels/${spied}/snoop/lost?spy=both&app=elsewhere`);
    expect(orphan).toMatchObject({ status: 200, body: { id: 'lost' } });
    expect(emulator.snapshot().channels.map((c) => c.id)).toEqual([spied]);
    expect(events.events.filter(about('lost'))).toEqual([]);
  });

  it('every event sent passes the spec validation', async () => {
    const spied = await liveCall();
    await ari(emulator, 'POST', `/channels/${spied}/snoop/snoop-1?spy=out&app=siaga112&appArgs=x`);
    await events.next('StasisStart', about('snoop-1'));
    await ari(emulator, 'DELETE', `/channels/${spied}`);
    await events.next('ChannelDestroyed', about('snoop-1'));
    expect(channelOf(await events.next('StasisEnd', about(spied))).id).toBe(spied);
    expect(emulator.violations).toEqual([]);
  });
});
