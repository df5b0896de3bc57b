import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Integration tests spawn real clients (curl, python); two cores, so keep files from starving each other.
    maxWorkers: 2,
  },
});
