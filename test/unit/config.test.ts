import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';

const minimal = {
  ARI_USERNAME: 'siaga112',
  ARI_PASSWORD: 'secret',
  DATABASE_URL: 'postgres://127.0.0.1:5432/siaga112',
};

describe('loadConfig', () => {
  it('fills documented defaults and freezes the result', () => {
    const config = loadConfig(minimal);
    expect(config.ari).toMatchObject({ url: 'http://127.0.0.1:8088', app: 'siaga112' });
    expect(config.http.port).toBe(3112);
    expect(config.calls.ringTimeoutSeconds).toBe(15);
    expect(Object.isFrozen(config.calls)).toBe(true);
  });

  it.each([
    [{ ARI_PASSWORD: undefined }, 'ARI_PASSWORD is required: expected a non-empty value'],
    [
      { DATABASE_URL: 'mysql://x' },
      'DATABASE_URL is invalid: expected a URL starting with postgres:// or postgresql://',
    ],
    [{ HTTP_PORT: 'eighty' }, 'HTTP_PORT is invalid: expected a whole number from 0 to 65535, got "eighty"'],
    [{ RING_TIMEOUT_SECONDS: '0' }, 'RING_TIMEOUT_SECONDS is invalid: expected a whole number from 1 to 120'],
    [
      { LOG_LEVEL: 'loud' },
      'LOG_LEVEL is invalid: expected one of fatal, error, warn, info, debug, trace, silent',
    ],
    [{ GREETING_MEDIA: 'greeting.wav' }, 'GREETING_MEDIA is invalid'],
  ])('names the variable and what it expects: %j', (override, message) => {
    expect(() => loadConfig({ ...minimal, ...override })).toThrow(ConfigError);
    expect(() => loadConfig({ ...minimal, ...override })).toThrow(message);
  });
});
