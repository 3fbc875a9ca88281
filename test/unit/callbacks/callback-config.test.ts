import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config.ts';

const minimal = {
  ARI_USERNAME: 'siaga112',
  ARI_PASSWORD: 'secret',
  DATABASE_URL: 'postgres://127.0.0.1:5432/siaga112',
};

describe('callback settings', () => {
  it('default to a 30 s ring and retries after 2, 5 and 15 minutes', () => {
    expect(loadConfig(minimal).callbacks).toEqual({
      ringSeconds: 30,
      retryDelaysMs: [120_000, 300_000, 900_000],
    });
  });

  it('read CALLBACK_RING_SECONDS and CALLBACK_RETRY_MINUTES (decimals, or none)', () => {
    const config = loadConfig({ ...minimal, CALLBACK_RING_SECONDS: '45', CALLBACK_RETRY_MINUTES: '0.5,1' });
    expect(config.callbacks).toEqual({ ringSeconds: 45, retryDelaysMs: [30_000, 60_000] });
    expect(Object.isFrozen(config.callbacks.retryDelaysMs)).toBe(true);
    expect(loadConfig({ ...minimal, CALLBACK_RETRY_MINUTES: 'none' }).callbacks.retryDelaysMs).toEqual([]);
  });

  it.each([
    [
      { CALLBACK_RING_SECONDS: '2' },
      'CALLBACK_RING_SECONDS is invalid: expected a whole number from 5 to 120',
    ],
    [
      { CALLBACK_RETRY_MINUTES: '2,,5' },
      'CALLBACK_RETRY_MINUTES is invalid: expected none, or comma-separated minutes',
    ],
    [{ CALLBACK_RETRY_MINUTES: '0' }, 'CALLBACK_RETRY_MINUTES is invalid'],
  ])('names the variable and what it expects: %j', (override, message) => {
    expect(() => loadConfig({ ...minimal, ...override })).toThrow(ConfigError);
    expect(() => loadConfig({ ...minimal, ...override })).toThrow(message);
  });
});
