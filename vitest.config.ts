import { defineConfig } from 'vitest/config';

// Tests live under test/ only (vitest would otherwise also collect compiled copies in dist/).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
