import { defineConfig } from 'vitest/config'

// End-to-end tests: plain Node, outside workerd. Each file starts the real gateway with `npm start`
// (wrangler dev + workerd) in a temporary copy of the project, so they are slow to set up and run
// one file at a time: two wrangler dev builds at once only compete for the same CPU.
//
// Each file states its time budget in its header (on a 2-core machine); together about 6 min.
// A fresh clone's `npm ci && npm test` must stay under 12 min on such a machine (issue 20), so a
// new file states its budget too and spends it: one gateway per file, the admin CLI in-process
// unless the process is the subject (test/e2e/support/admin-in-process.ts), independent CLI
// processes side by side.
export default defineConfig({
  test: {
    environment: 'node',
    include: ['test/e2e/**/*.test.ts'],
    globalSetup: ['test/e2e/support/e2e-global-setup.ts'],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 180_000,
    teardownTimeout: 30_000,
  },
})
