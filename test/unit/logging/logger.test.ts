import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, maskNumber } from '../../../src/logger.ts';

/** A logger writing into an array of lines. */
function capture() {
  let text = '';
  const sink = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      done();
    },
  });
  const logger = createLogger('info', {}, sink);
  return { logger, lines: () => text.split('\n').filter(Boolean) };
}

describe('the log', () => {
  it('masks caller numbers wherever a field holds one', () => {
    const { logger, lines } = capture();
    logger.info({ callerNumber: '+6281234567890', call: { callerIdRaw: '081234567890' } }, 'a call');
    const [line] = lines();
    expect(line).not.toContain('1234567');
    const entry = JSON.parse(line ?? '{}');
    expect(entry.callerNumber).toBe(maskNumber('+6281234567890'));
    expect(entry.call.callerIdRaw).toBe('08123*****90');
  });

  it('keeps one JSON line per entry whatever a caller ID holds', () => {
    const { logger, lines } = capture();
    const junk = [
      'a\r\nfake: entry',
      '"},{"level":60',
      '<script>',
      '🚑'.repeat(100),
      "'; drop table calls; --",
    ];
    for (const raw of junk) logger.warn({ call: { trunkNote: raw } }, raw);
    expect(lines()).toHaveLength(junk.length);
    expect(lines().map((line) => JSON.parse(line).msg)).toEqual(junk);
  });
});
