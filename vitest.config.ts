// Test runner configuration: unit tests in Node, end-to-end suites opt in by file name.
import { configDefaults, defineConfig } from 'vitest/config';
import { suitePlan } from './tests/support/suite-plan.ts';

const plan = suitePlan(import.meta.dirname);
if (plan.note !== null) console.warn(plan.note);

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    exclude: [...configDefaults.exclude, ...plan.exclude],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores on the build machines: browser suites are heavy, keep workers few.
    maxWorkers: 2,
  },
});
