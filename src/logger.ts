import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger } from 'pino';

/**
 * Fields that hold a caller's number wherever they appear (top level or one object down, e.g.
 * `{ call: { callerNumber } }`): pino masks them before a line is written, so a number that slips
 * into a log call is still not personal data on disk.
 */
const CALLER_FIELDS = ['callerNumber', 'callerIdRaw', 'callerId', 'number'];
const REDACTED_PATHS = CALLER_FIELDS.flatMap((field) => [field, `*.${field}`]);

/** JSON logs on stdout (or `destination`); caller numbers are masked (see maskNumber). */
export function createLogger(
  level: string,
  base: Record<string, unknown> = {},
  destination?: DestinationStream,
): Logger {
  const options = {
    level,
    base: { service: 'siaga112', ...base },
    redact: {
      paths: REDACTED_PATHS,
      censor: (value: unknown) => (typeof value === 'string' ? maskNumber(value) : value),
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

/** Keeps the operator prefix and the last two digits: personal data stays out of logs. */
export function maskNumber(raw: string): string {
  if (raw.length <= 6) return '*'.repeat(raw.length);
  return `${raw.slice(0, 5)}${'*'.repeat(Math.min(raw.length - 7, 12))}${raw.slice(-2)}`;
}
