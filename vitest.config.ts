import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Vitest's default is one worker fewer than the cores: on this project's 2-core machines (and
    // CI's) one file at a time, so the suite's wall time was the sum of its files' waits (rings,
    // leases, child processes starting). One file per core: the same CPU for each file as before
    // when the machine is otherwise idle, while another file waits.
    maxWorkers: Math.max(2, availableParallelism()),
  },
});
