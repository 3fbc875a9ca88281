import { onTestFinished } from 'vitest';

/**
 * Closes `resource` when the running test ends, passed or failed: call it inside the test, right
 * where the resource is made (`const c = closeAfterTest(await startCallCenter(), (c) => c.close())`).
 * What was registered last is closed first, each close runs even when an earlier one threw (its
 * error fails the test), and each has the hook timeout: no module-level `let` and `afterEach`
 * that stops at the first close that throws or hangs.
 */
export function closeAfterTest<T>(resource: T, close: (resource: T) => unknown): T {
  onTestFinished(async () => {
    await close(resource);
  });
  return resource;
}

/** A child process as `startServiceProcess` (test/e2e/faults/service-process.ts) gives it. */
export interface ExitingProcess {
  readonly hasExited: boolean;
  readonly exited: Promise<unknown>;
  kill(signal: NodeJS.Signals): void;
}

/**
 * SIGKILLs `child` when the running test ends unless it has exited by then, and waits until it
 * has: no process outlives its test, holding ports, leases or Redis connections into the next.
 */
export function killAfterTest<P extends ExitingProcess>(child: P): P {
  return closeAfterTest(child, async (c) => {
    if (!c.hasExited) c.kill('SIGKILL');
    await c.exited;
  });
}
