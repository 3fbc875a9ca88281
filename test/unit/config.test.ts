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

  it('trusts no proxy by default, or a hop count, or the proxies named', () => {
    expect(loadConfig(minimal).http.trustProxy).toBe(false);
    expect(loadConfig({ ...minimal, TRUST_PROXY: '1' }).http.trustProxy).toBe(1);
    expect(loadConfig({ ...minimal, TRUST_PROXY: '10.0.0.5, 192.168.0.0/16,::1' }).http.trustProxy).toEqual([
      '10.0.0.5',
      '192.168.0.0/16',
      '::1',
    ]);
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
    [{ OVERFLOW_TARGET: 'provincial' }, 'OVERFLOW_TARGET is invalid: expected none, or an endpoint'],
    [{ ANNOUNCE_POSITION: 'yes' }, 'ANNOUNCE_POSITION is invalid: expected true or false, got "yes"'],
    [{ AMI_URL: 'ami://127.0.0.1:5038' }, 'AMI_URL is invalid: expected none, or a URL such as'],
    [{ TRUST_PROXY: 'true' }, 'TRUST_PROXY is invalid: expected none, a hop count from 1 to 10, or comma-'],
    [{ TRUST_PROXY: '10.0.0.0/33' }, 'TRUST_PROXY is invalid'],
    [{ TRUST_PROXY: '10.0.0.1,proxy.local' }, 'TRUST_PROXY is invalid'],
  ])('names the variable and what it expects: %j', (override, message) => {
    expect(() => loadConfig({ ...minimal, ...override })).toThrow(ConfigError);
    expect(() => loadConfig({ ...minimal, ...override })).toThrow(message);
  });

  it('never echoes a value that may hold a secret', () => {
    for (const [name, value] of [
      ['DATABASE_URL', 'mysql://admin:hunter2@db'],
      ['AMI_URL', 'tcp://siaga112:hunter2@pbx:5038'],
    ] as const) {
      expect(() => loadConfig({ ...minimal, [name]: value })).toThrow(`${name} is invalid`);
      expect(() => loadConfig({ ...minimal, [name]: value })).not.toThrow(/hunter2/);
    }
  });

  it('reads the distribution settings and an AMI URL', () => {
    const config = loadConfig({
      ...minimal,
      WRAP_UP_SECONDS: '0',
      OVERFLOW_TARGET: 'PJSIP/0401312112@provincial',
      AMI_URL: 'ami://siaga112:s%40cret@127.0.0.1',
    });
    expect(config.calls.wrapUpSeconds).toBe(0);
    expect(config.calls.overflow).toEqual({ target: 'PJSIP/0401312112@provincial', afterSeconds: 120 });
    expect(config.ami).toEqual({ host: '127.0.0.1', port: 5038, username: 'siaga112', secret: 's@cret' });
    expect(config.distribution).toEqual({ agingSeconds: 60, skillFallbackSeconds: 20, leaderLeaseMs: 3000 });
  });

  it('bounds a graceful stop: 15 s by default, from 1 s to 10 minutes', () => {
    expect(loadConfig(minimal).shutdownTimeoutSeconds).toBe(15);
    expect(loadConfig({ ...minimal, SHUTDOWN_TIMEOUT_SECONDS: '2' }).shutdownTimeoutSeconds).toBe(2);
    expect(() => loadConfig({ ...minimal, SHUTDOWN_TIMEOUT_SECONDS: '0' })).toThrow(
      'SHUTDOWN_TIMEOUT_SECONDS is invalid: expected a whole number from 1 to 600',
    );
  });

  it('watches no trunk by default, or the PJSIP endpoints TRUNKS names, which need AMI', () => {
    const ami = { ...minimal, AMI_URL: 'ami://siaga112:secret@127.0.0.1' };
    expect(loadConfig(ami).trunks).toEqual([]);
    expect(loadConfig({ ...ami, TRUNKS: 'telkomsel, indosat,xl,smartfren' }).trunks).toEqual([
      'telkomsel',
      'indosat',
      'xl',
      'smartfren',
    ]);
    for (const bad of ['telkomsel,,xl', 'telkomsel,telkomsel', 'PJSIP/telkomsel', 'tel komsel']) {
      expect(() => loadConfig({ ...ami, TRUNKS: bad })).toThrow(
        'TRUNKS is invalid: expected none, or comma-separated PJSIP endpoint names',
      );
    }
    expect(() => loadConfig({ ...minimal, TRUNKS: 'telkomsel' })).toThrow(
      'TRUNKS is set but AMI_URL is none: trunks are watched over AMI',
    );
  });
});
