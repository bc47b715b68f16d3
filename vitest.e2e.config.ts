import { defineConfig } from 'vitest/config'

// End-to-end tests: plain Node, outside workerd. Each file starts the real gateway with `npm start`
// (wrangler dev + workerd) in a temporary copy of the project, or asks for the run's shared one.
// Two files run at once: a file spends most of its time waiting on other processes (a gateway's
// start, Chromium, python, the CLI), so the run used about 0.8 of a 2-core machine one file at a
// time (345 s of CPU in 433 s). Measured back to back on the shared 2-core machine under the same
// load: one at a time 1131 s, two at a time 787 s, the same 201 tests passing. Files on the shared
// gateway are written not to see each other (support/shared-gateway.ts).
//
// The global setup does once per run what every gateway start did: it applies the migrations with
// wrangler (each copy then starts from that state, and `npm start` finds nothing pending; the README
// walkthrough keeps a fresh clone's start), and it hands out one gateway with the shipped config to
// the files that need no other (test/e2e/support/shared-gateway.ts, started on first use).
//
// Each file states its time budget in its header (on a 2-core machine); together about 6 min (CI
// measured 460 s before the shared gateway and the migrated state; on the shared 2-core machine,
// back to back at load 3-4, a full run took 698 s before them and 480 s after).
// A fresh clone's `npm ci && npm test` must stay under 12 min on such a machine (issue 20), so a
// new file states its budget too and spends it: the shared gateway unless it needs its own config or
// the start is its subject, one gateway per file otherwise, the admin CLI in-process unless the
// process is the subject (test/e2e/support/admin-in-process.ts), independent CLI processes side by
// side.
export default defineConfig({
  test: {
    environment: 'node',
    include: ['test/e2e/**/*.test.ts'],
    globalSetup: ['test/e2e/support/e2e-global-setup.ts'],
    fileParallelism: true,
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 180_000,
    teardownTimeout: 30_000,
  },
})
