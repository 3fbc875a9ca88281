import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { eventually } from '../call-center-harness.ts';

const MAIN = fileURLToPath(new URL('../../../src/main.ts', import.meta.url));

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * `src/main.ts` in a child process of its own, as it runs in production: a SIGKILL is a real
 * crash (no cleanup, sockets closed by the kernel), a SIGTERM runs main's own shutdown.
 */
export interface ServiceProcess {
  readonly pid: number;
  /** `http://127.0.0.1:<port>` once listening. */
  readonly url: string;
  /** Resolves when the process has exited, however it did. */
  readonly exited: Promise<ProcessExit>;
  /** True once the process has exited. */
  readonly hasExited: boolean;
  /** Its log lines so far (pino JSON), for a failing test to show. */
  readonly log: readonly string[];
  kill(signal: NodeJS.Signals): void;
  /** A request to its REST API as an admin. */
  request(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }>;
  /** Resolves once `/ready` answers 200: this process holds the call-control lease and ARI. */
  untilLeading(timeoutMs?: number): Promise<void>;
}

/**
 * Starts `node src/main.ts` with exactly `env` (plus PATH and HOME) and resolves once its HTTP API
 * listens. Logs at `info` so the listening address can be read; `LOG_LEVEL` in `env` is ignored.
 */
export async function startServiceProcess(
  env: Record<string, string>,
  options: { adminKey: string; startTimeoutMs?: number },
): Promise<ServiceProcess> {
  const child: ChildProcess = spawn(process.execPath, [MAIN], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      ...env,
      HTTP_PORT: '0',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log: string[] = [];
  let url: string | undefined;
  let hasExited = false;
  const collect = (chunk: Buffer, pending: { text: string }) => {
    pending.text += chunk.toString('utf8');
    const lines = pending.text.split('\n');
    pending.text = lines.pop() ?? '';
    for (const line of lines) {
      log.push(line);
      const listening = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
      if (listening && !url) url = listening[1];
    }
  };
  const out = { text: '' };
  const err = { text: '' };
  child.stdout?.on('data', (chunk: Buffer) => collect(chunk, out));
  child.stderr?.on('data', (chunk: Buffer) => collect(chunk, err));
  const exited = new Promise<ProcessExit>((resolve) => {
    child.once('exit', (code, signal) => {
      hasExited = true;
      resolve({ code, signal });
    });
  });
  const tail = () => log.slice(-30).join('\n');
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  // Ends at once when the process exits before listening (its log says why).
  const listening = await Promise.race([
    eventually(() => url, 'the service process listening', startTimeoutMs).then(() => 'listening' as const),
    exited.then(() => 'exited' as const),
  ]).catch((error: unknown) => error);
  if (listening !== 'listening') {
    child.kill('SIGKILL');
    throw new Error(
      `the service process did not start (${listening instanceof Error ? listening.message : 'it exited'}):\n${tail()}`,
    );
  }
  const base = url as string;
  const request = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${options.adminKey}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, body: parsed };
  };
  return {
    pid: child.pid ?? -1,
    url: base,
    exited,
    get hasExited() {
      return hasExited;
    },
    log,
    kill: (signal) => {
      child.kill(signal);
    },
    request,
    untilLeading: async (timeoutMs = 20_000) => {
      await eventually(
        async () => {
          if (hasExited) throw new Error(`the service process exited:\n${tail()}`);
          return (await request('GET', '/ready')).status === 200;
        },
        'the service process holding call control',
        timeoutMs,
      );
    },
  };
}
