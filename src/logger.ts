import { type Logger, pino } from 'pino';

export type { Logger } from 'pino';

/** JSON logs on stdout; caller numbers are masked wherever they are logged (see maskNumber). */
export function createLogger(level: string, base: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { service: 'siaga112', ...base } });
}

/** Keeps the operator prefix and the last two digits: personal data stays out of logs. */
export function maskNumber(raw: string): string {
  if (raw.length <= 6) return '*'.repeat(raw.length);
  return `${raw.slice(0, 5)}${'*'.repeat(Math.min(raw.length - 7, 12))}${raw.slice(-2)}`;
}
