/**
 * A calendar day in a time zone: what "today" means on a wallboard, and where a demo puts its day
 * of traffic. Computed with Intl, so a 23- or 25-hour day across a DST change comes out right
 * (Indonesia has none, but a time zone is a parameter).
 */
export interface LocalDay {
  /** `YYYY-MM-DD` in the time zone. */
  date: string;
  /** The day's first instant (local midnight). */
  from: Date;
  /** The next day's first instant (exclusive end). */
  to: Date;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, format);
  }
  return format;
}

/** The wall-clock fields of `at` in `timeZone`. */
function fields(
  at: number,
  timeZone: string,
): Record<'year' | 'month' | 'day' | 'hour' | 'minute' | 'second', number> {
  const parts = Object.fromEntries(
    formatter(timeZone)
      .formatToParts(at)
      .filter((part) => part.type !== 'literal')
      .map((part) => [part.type, Number(part.value)]),
  );
  return {
    year: parts.year ?? 0,
    month: parts.month ?? 1,
    day: parts.day ?? 1,
    hour: parts.hour ?? 0,
    minute: parts.minute ?? 0,
    second: parts.second ?? 0,
  };
}

/** How far `timeZone` is ahead of UTC at `at`, in milliseconds. */
function offsetAt(at: number, timeZone: string): number {
  const f = fields(at, timeZone);
  const asUtc = Date.UTC(f.year, f.month - 1, f.day, f.hour, f.minute, f.second);
  return asUtc - Math.floor(at / 1000) * 1000;
}

/** The instant of local midnight starting the day `year-month-day` in `timeZone`. */
function midnight(year: number, month: number, day: number, timeZone: string): number {
  const guess = Date.UTC(year, month - 1, day);
  // Twice: the offset at the guess may differ from the offset at the answer (a DST change).
  const first = guess - offsetAt(guess, timeZone);
  return guess - offsetAt(first, timeZone);
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** The local day of `at` (epoch milliseconds) in `timeZone`, e.g. Asia/Jakarta. */
export function localDay(at: number, timeZone: string): LocalDay {
  const f = fields(at, timeZone);
  const from = midnight(f.year, f.month, f.day, timeZone);
  // The next calendar day, whatever the length of this one.
  const next = new Date(Date.UTC(f.year, f.month - 1, f.day + 1));
  const to = midnight(next.getUTCFullYear(), next.getUTCMonth() + 1, next.getUTCDate(), timeZone);
  return { date: `${pad(f.year, 4)}-${pad(f.month)}-${pad(f.day)}`, from: new Date(from), to: new Date(to) };
}

/** The local hour (0-23) of `at` in `timeZone`. */
export function localHour(at: number, timeZone: string): number {
  return fields(at, timeZone).hour;
}

/** True when `timeZone` is an IANA zone this runtime knows. */
export function isTimeZone(timeZone: string): boolean {
  return timeZone === 'UTC' || Intl.supportedValuesOf('timeZone').includes(timeZone);
}
