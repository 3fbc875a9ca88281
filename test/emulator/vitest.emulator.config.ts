import { defineConfig } from 'vitest/config';

/** Runs the emulator and contract tests alone, without the project-wide globalSetup. */
export default defineConfig({
  test: {
    include: ['test/emulator/**/*.test.ts', 'test/contract/**/*.test.ts'],
    testTimeout: 15_000,
    hookTimeout: 15_000,
    pool: 'forks',
  },
});
