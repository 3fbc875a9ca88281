import { afterEach, describe, expect, it } from 'vitest';
import { type CallCenterUnderTest, startCallCenter, untilBridged } from './call-center-harness.ts';

let center: CallCenterUnderTest | undefined;
afterEach(async () => {
  await center?.close();
  center = undefined;
});

const put = (c: CallCenterUnderTest, takerId: string, payload: Record<string, unknown>) =>
  c.service.app.inject({ method: 'PUT', url: `/takers/${takerId}`, payload });

describe('the call-taker directory', () => {
  it('adds and edits call takers with their phone and skills, refusing a phone that is taken', async () => {
    center = await startCallCenter({ takers: 1 });
    const added = await put(center, 'rina', {
      name: 'Rina',
      endpoint: 'PJSIP/desk7',
      skills: ['medical', 'fire'],
    });
    expect(added.statusCode, added.body).toBe(200);
    expect(added.json()).toEqual({
      id: 'rina',
      name: 'Rina',
      endpoint: 'PJSIP/desk7',
      skills: ['medical', 'fire'],
      active: true,
    });
    expect((await put(center, 'rina', { name: 'Rina S.', endpoint: 'PJSIP/desk8' })).json()).toMatchObject({
      name: 'Rina S.',
      endpoint: 'PJSIP/desk8',
      skills: [],
    });
    const list = (await center.service.app.inject({ method: 'GET', url: '/takers' })).json();
    expect(list.map((t: { id: string }) => t.id)).toEqual(['rina', 'taker1']);

    const taken = await put(center, 'budi', { name: 'Budi', endpoint: 'PJSIP/taker1' });
    expect(taken.statusCode).toBe(409);
    expect(taken.json().detail).toMatch(/^body\.endpoint: /);
    const badSkill = await put(center, 'budi', {
      name: 'Budi',
      endpoint: 'PJSIP/desk9',
      skills: ['karaoke'],
    });
    expect(badSkill.statusCode).toBe(400);
    expect(badSkill.json().detail).toMatch(/^body\.skills\.0: /);
    const supervisor = await center.createKey('supervisor');
    const refused = await center.service.app.inject({
      method: 'PUT',
      url: '/takers/budi',
      payload: { name: 'Budi', endpoint: 'PJSIP/desk9' },
      headers: { authorization: `Bearer ${supervisor}` },
    });
    expect(refused.statusCode).toBe(403);
  });

  it('takes a deactivated taker out of distribution, but not in the middle of a call', async () => {
    center = await startCallCenter({ takers: 2 });
    center.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 10 });
    await center.makeAvailable('taker1');
    await center.makeAvailable('taker2');
    const call = center.emulator.placeCall({ from: '081211110000' });
    await untilBridged(center, call);
    const busyTaker =
      (await center.service.queue.getTaker('taker1'))?.state === 'on-call' ? 'taker1' : 'taker2';
    const freeTaker = busyTaker === 'taker1' ? 'taker2' : 'taker1';

    const busy = await put(center, busyTaker, { name: 'X', endpoint: `PJSIP/${busyTaker}`, active: false });
    expect(busy.statusCode).toBe(409);
    const off = await put(center, freeTaker, { name: 'Y', endpoint: `PJSIP/${freeTaker}`, active: false });
    expect(off.statusCode, off.body).toBe(200);
    expect((await center.service.queue.getTaker(freeTaker))?.state).toBe('offline');
    call.hangup();
  });
});
