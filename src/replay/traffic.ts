/**
 * Traffic files (../shared/traffic/FORMAT.md): JSON Lines, one scripted 112 call per line, with the
 * truth about each call. Parsing is forgiving by contract: a bad line is reported with its number
 * and skipped, never fatal, and unknown fields are ignored.
 */
import type { CallerStep } from '../emulator/inbound-caller.ts';
import { VERDICTS, type Verdict } from '../records/call-record.ts';

export const TRUTHS = ['genuine', 'prank', 'silent-genuine', 'silent-accidental', 'misdial', 'info'] as const;
export type Truth = (typeof TRUTHS)[number];

export interface TrafficCall {
  id: string;
  /** Line number in the file (1-based), for reports. */
  line: number;
  /** Arrival, seconds from the start of the replay. */
  at: number;
  /** Caller ID exactly as the trunk delivers it (untrusted). */
  from: string;
  trunk: string;
  truth: Truth;
  caller: CallerStep[];
  /** Seconds from arrival after which the caller hangs up unless a human answered. */
  patience: number;
  /** Seconds of conversation once connected. */
  talk: number;
  /** What the call taker records after the call. */
  verdict: Verdict;
}

export interface TrafficProblem {
  line: number;
  message: string;
}

export interface ParsedTraffic {
  /** Sorted by arrival. */
  calls: TrafficCall[];
  problems: TrafficProblem[];
}

const DEFAULT_CALLER: CallerStep[] = [{ speak: 5 }];
const DEFAULT_PATIENCE_S = 120;
const DEFAULT_TALK_S = 60;
// A trunk names a PJSIP endpoint; anything else could not be one.
const TRUNK = /^[A-Za-z0-9_-]{1,40}$/;
const DTMF = /^[0-9A-D*#]{1,32}$/;

export function verdictFor(truth: Truth): Verdict {
  return truth === 'silent-genuine' || truth === 'silent-accidental' ? 'silent' : truth;
}

class LineError extends Error {}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function seconds(value: unknown, field: string, { positive = false } = {}): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (positive && value === 0)) {
    throw new LineError(
      `${field} must be a number ${positive ? '> 0' : '≥ 0'}, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

function step(value: unknown, index: number): CallerStep {
  const field = `caller[${index}]`;
  if (!isRecord(value)) throw new LineError(`${field} must be an object`);
  if ('speak' in value) return { speak: seconds(value.speak, `${field}.speak`) };
  if ('silence' in value) return { silence: seconds(value.silence, `${field}.silence`) };
  if ('dtmf' in value) {
    if (typeof value.dtmf !== 'string' || !DTMF.test(value.dtmf))
      throw new LineError(`${field}.dtmf must be keys 0-9, *, #, A-D`);
    return { dtmf: value.dtmf };
  }
  if (value.hangup === true) return { hangup: true };
  throw new LineError(`${field} must be one of speak, silence, dtmf, hangup`);
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], field: string): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new LineError(`${field} must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

function parseLine(text: string, line: number): TrafficCall {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new LineError('not valid JSON');
  }
  if (!isRecord(value)) throw new LineError('not a JSON object');
  if (typeof value.id !== 'string' || value.id.length === 0)
    throw new LineError('id must be a non-empty string');
  if (typeof value.from !== 'string') throw new LineError('from must be a string (it may be empty)');
  const trunk = value.trunk ?? 'telkomsel';
  if (typeof trunk !== 'string' || !TRUNK.test(trunk))
    throw new LineError(`trunk must be letters, digits, - or _, got ${JSON.stringify(trunk)}`);
  const truth = oneOf(value.truth, TRUTHS, 'truth');
  if (value.caller !== undefined && !Array.isArray(value.caller))
    throw new LineError('caller must be an array of steps');
  return {
    id: value.id,
    line,
    at: seconds(value.at, 'at'),
    from: value.from,
    trunk,
    truth,
    caller: Array.isArray(value.caller) ? value.caller.map(step) : DEFAULT_CALLER,
    patience:
      value.patience === undefined
        ? DEFAULT_PATIENCE_S
        : seconds(value.patience, 'patience', { positive: true }),
    talk: value.talk === undefined ? DEFAULT_TALK_S : seconds(value.talk, 'talk'),
    verdict: value.verdict === undefined ? verdictFor(truth) : oneOf(value.verdict, VERDICTS, 'verdict'),
  };
}

export function parseTraffic(text: string): ParsedTraffic {
  const calls: TrafficCall[] = [];
  const problems: TrafficProblem[] = [];
  const ids = new Set<string>();
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === '') return;
    try {
      const call = parseLine(raw, line);
      if (ids.has(call.id)) throw new LineError(`id ${JSON.stringify(call.id)} appears twice`);
      ids.add(call.id);
      calls.push(call);
    } catch (error) {
      if (!(error instanceof LineError)) throw error;
      problems.push({ line, message: error.message });
    }
  });
  calls.sort((a, b) => a.at - b.at || a.line - b.line);
  return { calls, problems };
}
