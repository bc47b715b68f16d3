import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-pool-workers'
import { exportJWK, generateKeyPair } from 'jose'
import { defineConfig } from 'vitest/config'

// Unit and integration tests: they run inside workerd with real local D1 and KV (isolated per
// test file) and the real migrations, against a real HTTP upstream started in global-setup.ts.
async function testSigningKeys(): Promise<string> {
  const keys = []
  for (const kid of ['test-key-1', 'test-key-2']) {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true })
    keys.push({ ...(await exportJWK(privateKey)), kid, alg: 'ES256', use: 'sig' })
  }
  return JSON.stringify({ keys })
}

/** A DATA_KEYS value as `npm run keys` prints it: one fresh AES-256-GCM key. */
function testDataKeys(): string {
  const k = randomBytes(32).toString('base64url')
  return JSON.stringify({ keys: [{ kty: 'oct', kid: 'test-data-1', alg: 'A256GCM', k }] })
}

/** Every workers test file under `dir` (test/e2e runs in Node: vitest.e2e.config.ts). */
function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return path === join('test', 'e2e') ? [] : testFiles(path)
    return entry.name.endsWith('.test.ts') ? [path] : []
  })
}

// A file that imports nothing from `cloudflare:*` and nothing from test/support never touches the
// Worker's bindings, so it skips the setup file: importing `cloudflare:test` alone costs a file 3-7 s
// (setup 28 s -> 0.08 s for four such files), and a third of the files are such.
const USES_WORKER = /from '(?:cloudflare:|[^']*\/support\/)/
const unitFiles = [...testFiles('src'), ...testFiles('test')].filter(
  (file) => !USES_WORKER.test(readFileSync(file, 'utf8')),
)

export default defineConfig({
  plugins: [
    cloudflareTest(async ({ inject }) => ({
      wrangler: { configPath: './wrangler.toml' },
      miniflare: {
        bindings: {
          UPSTREAM_URL: inject('upstreamOrigin'),
          MCP_UPSTREAM_URL: inject('upstreamOrigin'),
          ISSUER: 'http://gateway.test',
          SIGNING_KEYS: await testSigningKeys(),
          DATA_KEYS: testDataKeys(),
          // As `npm start` sets it in .dev.vars: the tests register users (wrangler.toml ships it off).
          REGISTRATION: 'on',
          MIGRATIONS: await readD1Migrations('./migrations'),
        },
      },
    })),
  ],
  test: {
    globalSetup: [
      './test/global-setup.ts',
      './test/global-setup-jwks.ts',
      './test/global-setup-providers.ts',
    ],
    // Every test file loads the Worker's whole module graph afresh in workerd (the setup file's
    // `cloudflare:test` import pulls in the main module), one module at a time through Vite's
    // module runner: zod/mini alone is ~90 modules (its locales), jose ~85, hono ~30. Pre-bundled,
    // each is one module: measured on 8 files, 52 -> 41 s and 48 -> 38 s.
    deps: {
      optimizer: {
        ssr: {
          enabled: true,
          include: [
            'zod/mini',
            'zod/v4/locales/en.js',
            'jose',
            'hono',
            'hono/cookie',
            'hono/cors',
            'hono/html',
            'hono/http-exception',
            'hono/jsx',
            'hono/jsx/jsx-runtime',
            'hono/jsx/jsx-dev-runtime',
            'hono/utils/cookie',
            '@oslojs/cbor',
            '@oslojs/encoding',
            '@oslojs/otp',
            '@oslojs/webauthn',
            'bcryptjs',
            'uqr',
            'oauth4webapi',
            'fast-check',
          ],
        },
      },
    },
    projects: [
      {
        extends: true,
        test: {
          name: 'worker',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: ['test/e2e/**', ...unitFiles],
          setupFiles: ['./test/apply-migrations.ts'],
        },
      },
      { extends: true, test: { name: 'unit', include: unitFiles } },
    ],
    testTimeout: 20_000,
    // vitest runs cores - 1 files at once: one on a 2-core machine. These files spend much of their
    // time waiting (re-check intervals, cache windows, D1 and KV I/O), so two at a time finish
    // sooner there (measured on 2 cores under load: 282 -> 214 s).
    maxWorkers: Math.max(2, availableParallelism() - 1),
  },
})
