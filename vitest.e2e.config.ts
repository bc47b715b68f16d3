import { defineConfig } from 'vitest/config'

// End-to-end tests: plain Node, outside workerd. Each file starts the real gateway with `npm start`
// (wrangler dev + workerd) in a temporary copy of the project, so they are slow to set up and run
// one file at a time: two wrangler dev builds at once only compete for the same CPU.
export default defineConfig({
  test: {
    environment: 'node',
    include: ['test/e2e/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 180_000,
    teardownTimeout: 30_000,
  },
})
