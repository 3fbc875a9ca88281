import { describe, expect, it } from 'vitest';
import {
  afterAttempt,
  CALLBACK_CHANNEL_PREFIX,
  callbackChannelId,
  callbackDue,
  callerDialString,
  dialableNumber,
  outcomeFromCause,
  parseCallbackChannelId,
  parseRetryMinutes,
} from '../../../src/callbacks/callback-policy.ts';
import type { CallRecord, ScreeningDecision } from '../../../src/records/call-record.ts';

const abandoned: Pick<CallRecord, 'disposition' | 'answeredAt' | 'callerNumber' | 'screening'> = {
  disposition: 'abandoned',
  answeredAt: new Date('2026-11-23T10:00:00Z'),
  callerNumber: '+6281234567890',
  screening: { decision: 'connect', score: 0, reasons: [] },
};

describe('callbackDue', () => {
  it('calls back a clean caller who hung up after the IVR answered, before a person did', () => {
    expect(callbackDue(abandoned)).toBe(true);
    expect(callbackDue({ ...abandoned, screening: null })).toBe(true);
  });

  it('calls back a caller whose waiting call was lost when Asterisk restarted', () => {
    expect(callbackDue({ ...abandoned, disposition: 'lost' })).toBe(true);
    expect(callbackDue({ ...abandoned, disposition: 'lost', answeredAt: null })).toBe(false);
  });

  it.each<[string, Partial<typeof abandoned>]>([
    ['hung up before the app answered', { answeredAt: null }],
    ['anonymous or junk caller ID', { callerNumber: null }],
    ['reached a person', { disposition: 'connected' }],
    ['released by screening', { disposition: 'released' }],
    ['silent', { disposition: 'silent' }],
    ['overflowed', { disposition: 'overflowed' }],
  ])('never when %s', (_what, change) => {
    expect(callbackDue({ ...abandoned, ...change })).toBe(false);
  });

  it.each<ScreeningDecision>(['connect-low', 'challenge', 'warn-and-release'])(
    'never for a call screened as a suspected prank (%s)',
    (decision) => {
      expect(callbackDue({ ...abandoned, screening: { decision, score: 5, reasons: ['prank'] } })).toBe(
        false,
      );
    },
  );
});

describe('outcomeFromCause', () => {
  it.each<[number | undefined, boolean, string]>([
    [16, true, 'reached'],
    [17, false, 'busy'],
    [19, false, 'no-answer'],
    [18, false, 'no-answer'],
    [16, false, 'no-answer'],
    [undefined, false, 'no-answer'],
    [1, false, 'invalid'],
    [3, false, 'invalid'],
    [28, false, 'invalid'],
  ])('cause %s (answered %s) → %s', (cause, answered, outcome) => {
    expect(outcomeFromCause(cause, answered)).toBe(outcome);
  });
});

describe('afterAttempt', () => {
  const schedule = [120_000, 300_000, 900_000];
  it('retries on the schedule, then gives up', () => {
    expect(afterAttempt(1, 'no-answer', schedule)).toEqual({ status: 'scheduled', delayMs: 120_000 });
    expect(afterAttempt(2, 'busy', schedule)).toEqual({ status: 'scheduled', delayMs: 300_000 });
    expect(afterAttempt(3, 'error', schedule)).toEqual({ status: 'scheduled', delayMs: 900_000 });
    expect(afterAttempt(4, 'no-answer', schedule)).toEqual({ status: 'exhausted' });
    expect(afterAttempt(1, 'no-answer', [])).toEqual({ status: 'exhausted' });
  });

  it('does not retry a number that cannot be reached at all', () => {
    expect(afterAttempt(1, 'invalid', schedule)).toEqual({ status: 'failed' });
  });
});

describe('parseRetryMinutes', () => {
  it('reads minutes, decimals allowed', () => {
    expect(parseRetryMinutes('2,5,15')).toEqual([120_000, 300_000, 900_000]);
    expect(parseRetryMinutes(' 0.01 , 0.5 ')).toEqual([600, 30_000]);
    expect(parseRetryMinutes('none')).toEqual([]);
  });

  it.each(['', '2,,5', '0', '-1', 'two', '2;5', '1e3', '99999999'])('refuses %j', (raw) => {
    expect(parseRetryMinutes(raw)).toBeUndefined();
  });
});

describe('dialling the caller back', () => {
  it('dials Indonesian numbers in national form through the trunk they came in on', () => {
    expect(dialableNumber('+6281234567890')).toBe('081234567890');
    expect(dialableNumber('+61412345678')).toBe('0061412345678');
    expect(callerDialString('+6281234567890', 'telkomsel')).toBe('PJSIP/081234567890@telkomsel');
  });

  it('refuses what is not a number or not a trunk name', () => {
    expect(dialableNumber('081234567890')).toBeNull();
    expect(dialableNumber('+62 812')).toBeNull();
    expect(callerDialString('+6281234567890', 'evil/trunk')).toBeNull();
    expect(callerDialString('+6281234567890', '')).toBeNull();
  });

  it('names channels so their events find the callback again', () => {
    const id = '0b6f2d2e-6a51-4a43-9d2f-3c8b1f8f6a10';
    const channelId = callbackChannelId(id, 2, 'caller');
    expect(channelId.startsWith(CALLBACK_CHANNEL_PREFIX)).toBe(true);
    expect(parseCallbackChannelId(channelId)).toEqual({ callbackId: id, attempt: 2, leg: 'caller' });
    expect(parseCallbackChannelId(`${CALLBACK_CHANNEL_PREFIX}${id}-2-bridge`)).toBeNull();
    expect(parseCallbackChannelId('siaga112-offer-x-1')).toBeNull();
  });
});
