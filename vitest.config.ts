// Test runner configuration: unit tests in Node, end-to-end suites opt in by file name.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores on the build machines: browser suites are heavy, keep workers few.
    maxWorkers: 2,
  },
});
