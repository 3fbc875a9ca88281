/**
 * Requests and replies between the benchmark and its child processes (emulator with traffic, the
 * siaga112 services, the floor app), typed by an API map; children also send notices unasked
 * (a ramp step ended). Every request has a timeout and fails when the child exits.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Request kinds → what they take and what they answer. */
export type Api = Record<string, { args: unknown; reply: unknown }>;

type Request = { id: number; kind: string; args: unknown };
type Reply = { id: number; ok: true; reply: unknown } | { id: number; ok: false; error: string };
type Notice = { notice: string; payload: unknown };

const DEFAULT_TIMEOUT_MS = 30_000;

/** The parent's end of one child process. */
export class ChildClient<A extends Api, N extends object> {
  readonly label: string;
  readonly process: ChildProcess;
  /** Resolves with the exit code (or signal name) when the child is gone. */
  readonly exited: Promise<number | string | null>;
  #nextId = 1;
  readonly #pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  readonly #listeners = new Map<string, Set<(payload: never) => void>>();

  constructor(label: string, child: ChildProcess) {
    this.label = label;
    this.process = child;
    child.on('message', (message: Reply | Notice) => {
      if ('notice' in message) {
        for (const listener of this.#listeners.get(message.notice) ?? []) {
          (listener as (payload: unknown) => void)(message.payload);
        }
        return;
      }
      const pending = this.#pending.get(message.id);
      if (!pending) return;
      this.#pending.delete(message.id);
      if (message.ok) pending.resolve(message.reply);
      else pending.reject(new Error(`${label}: ${message.error}`));
    });
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        for (const pending of this.#pending.values()) {
          pending.reject(new Error(`${label} exited (${code ?? signal}) before answering`));
        }
        this.#pending.clear();
        resolve(code ?? signal);
      });
    });
  }

  request<K extends keyof A & string>(
    kind: K,
    args: A[K]['args'],
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<A[K]['reply']> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${this.label}: no answer to ${kind} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as A[K]['reply']);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      const request: Request = { id, kind, args };
      this.process.send(request, (error) => {
        if (!error) return;
        clearTimeout(timer);
        this.#pending.delete(id);
        reject(error);
      });
    });
  }

  on<K extends keyof N & string>(notice: K, listener: (payload: N[K]) => void): () => void {
    let set = this.#listeners.get(notice);
    if (!set) {
      set = new Set();
      this.#listeners.set(notice, set);
    }
    set.add(listener as (payload: never) => void);
    return () => set.delete(listener as (payload: never) => void);
  }

  /** Waits `graceMs` for the child to exit by itself, then SIGTERM, then SIGKILL. */
  async kill(graceMs = 5_000): Promise<void> {
    const gone = () => this.process.exitCode !== null || this.process.signalCode !== null;
    const wait = (ms: number) =>
      Promise.race([this.exited, new Promise((resolve) => setTimeout(resolve, ms).unref())]);
    if (gone()) return;
    await wait(graceMs);
    if (gone()) return;
    this.process.kill('SIGTERM');
    await wait(graceMs);
    if (!gone()) this.process.kill('SIGKILL');
    await this.exited;
  }
}

type Stoppable = Api & { stop: { args: Record<string, never>; reply: null } };

/** Asks the child to stop (it closes what it holds and exits), then makes sure it is gone. */
export async function stopChild<A extends Stoppable, N extends object>(
  child: ChildClient<A, N>,
  log: (message: string) => void,
): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return;
  await child
    .request('stop', {} as A['stop']['args'], 30_000)
    .catch((error: unknown) => log(`${child.label} did not stop cleanly: ${String(error)}`));
  await child.kill(5_000);
}

/**
 * Starts `bench/<file>` in its own Node process; its stdout goes to our stderr so the report on
 * stdout stays clean.
 */
export function forkChild<A extends Api, N extends object>(
  label: string,
  file: string,
  execArgv: readonly string[] = [],
): ChildClient<A, N> {
  const child = fork(fileURLToPath(new URL(file, import.meta.url)), [], {
    execPath: process.execPath,
    execArgv: [...execArgv],
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  child.stdout?.pipe(process.stderr);
  return new ChildClient<A, N>(label, child);
}

/** The child's end: answers the parent's requests with `handlers`. */
export function serve<A extends Api>(
  handlers: {
    [K in keyof A]: (args: A[K]['args']) => Promise<A[K]['reply']> | A[K]['reply'];
  },
): void {
  process.on('message', (message: Request) => {
    const handler = handlers[message.kind] as ((args: unknown) => unknown) | undefined;
    const answer = (reply: Reply) => process.send?.(reply);
    if (!handler) {
      answer({ id: message.id, ok: false, error: `unknown request ${message.kind}` });
      return;
    }
    Promise.resolve()
      .then(() => handler(message.args))
      .then(
        (reply) => answer({ id: message.id, ok: true, reply }),
        (error: unknown) => answer({ id: message.id, ok: false, error: String(error) }),
      );
  });
  // The parent went away (crashed, killed): nothing left to serve.
  process.on('disconnect', () => process.exit(1));
}

/** The child's end: tells the parent something it did not ask for. */
export function notify<N extends object, K extends keyof N & string>(notice: K, payload: N[K]): void {
  const message: Notice = { notice, payload };
  process.send?.(message);
}
