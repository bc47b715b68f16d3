/**
 * `npm run check-config` on the configuration a deploy would ship. Open registration there lets
 * anyone create an account and reach every route that only asks for a login, so the check warns
 * about it (a warning: open sign-up may be intended), and never counts `.dev.vars`, where
 * `npm start` turns registration on for local development only.
 *
 * The checks run the command in this process (scripts/lib/check-config-cli.ts: its own argument
 * parsing, validator, messages and exit code), since each `npm run check-config` process spends
 * about 4 s of CPU loading wrangler; two tests spawn the real command, for the process itself (exit
 * status 0 and 1, stdout and stderr).
 *
 * Time budget: ~12 s on a 2-core machine (two check-config processes side by side, one wrangler load
 * in this process). Measured 50 s at load 5 when every check was a process.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCheckConfig } from '../../scripts/lib/check-config-cli'
import { type CliRun, runInProcess } from './support/cli-in-process'
import { PROJECT_ROOT } from './support/project-copy'

const require = createRequire(import.meta.url)
const TSX_CLI = require.resolve('tsx/cli')
const WARNING = /warning: registration is on \((.+?)\): anyone can sign up/

let dir: string
let shipped: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edge-auth-check-config-'))
  shipped = await readFile(join(PROJECT_ROOT, 'wrangler.toml'), 'utf8')
})

afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** Writes `toml` where the checks read it; `main` resolves against the config's directory. */
async function configFile(name: string, toml: string): Promise<string> {
  const path = join(dir, `${name}.toml`)
  await writeFile(
    path,
    toml.replace('main = "src/index.ts"', `main = "${join(PROJECT_ROOT, 'src/index.ts')}"`),
  )
  return path
}

/** `npm run check-config -- --config <file> [args]` as a process of its own, from the project root. */
async function checkConfigProcess(name: string, toml: string, args: string[] = []): Promise<CliRun> {
  const path = await configFile(name, toml)
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [TSX_CLI, 'scripts/check-config.ts', '--config', path, ...args],
      { cwd: PROJECT_ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: 'false' } },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    )
  })
}

/** The same command in this process (support/cli-in-process.ts). */
async function checkConfig(name: string, toml: string, args: string[] = []): Promise<CliRun> {
  const path = await configFile(name, toml)
  return runInProcess(() => runCheckConfig(['--config', path, ...args]))
}

function openRegistration(toml: string): string {
  const opened = toml.replace(/^registration = false$/m, 'registration = true')
  if (opened === toml) throw new Error('wrangler.toml no longer ships "registration = false"')
  return opened
}

// The two process checks load wrangler (about 4 s of CPU each): independent, so they run side by
// side, and a test waits for the other's share of the CPU (hence the long timeout).
const CONCURRENT_PROCESSES = { timeout: 120_000 }

describe.concurrent(
  'check-config warns when the deployed config opens registration',
  CONCURRENT_PROCESSES,
  () => {
    it('the shipped wrangler.toml passes without a registration warning (sign-up is off when deployed)', async () => {
      const result = await checkConfigProcess('shipped', shipped)
      expect(result.code, result.stderr).toBe(0)
      expect(result.stdout).toMatch(/^configuration OK: \d+ routes/)
      expect(result.stderr).not.toMatch(WARNING)
      expect(result.stderr).not.toContain('[[ratelimits]]')
    })

    it('SETTINGS.registration = true: passes (exit 0) with a warning naming the setting', async () => {
      const result = await checkConfig('settings-on', openRegistration(shipped))
      expect(result.code, result.stderr).toBe(0)
      expect(result.stdout).toMatch(/^configuration OK/)
      expect(result.stderr.match(WARNING)?.[1]).toBe('SETTINGS.registration = true')
    })

    it('REGISTRATION = "on" among the deployed vars: warns, naming the var', async () => {
      const toml = shipped.replace('[vars]\n', '[vars]\nREGISTRATION = "on"\n')
      const result = await checkConfig('var-on', toml)
      expect(result.code, result.stderr).toBe(0)
      expect(result.stderr.match(WARNING)?.[1]).toBe('REGISTRATION = "on"')
    })

    it('an [env.NAME] that opens registration warns under --env NAME only', async () => {
      // wrangler does not inherit [vars] into an environment: it carries its own copy.
      const envVars = openRegistration(shipped.slice(shipped.indexOf('[vars]\n'))).replaceAll(
        /^\[(\[?)vars/gm,
        '[$1env.production.vars',
      )
      const toml = `${shipped}\n[env.production]\n${envVars}`
      const topLevel = await checkConfig('env-on', toml)
      expect(topLevel.code, topLevel.stderr).toBe(0)
      expect(topLevel.stderr).not.toMatch(WARNING)
      const production = await checkConfig('env-on', toml, ['--env', 'production'])
      expect(production.code, production.stderr).toBe(0)
      expect(production.stderr.match(WARNING)?.[1]).toBe('SETTINGS.registration = true')
    })

    it('REGISTRATION = "yes" is a configuration problem (exit 1), not a guess', async () => {
      const toml = shipped.replace('[vars]\n', '[vars]\nREGISTRATION = "yes"\n')
      const result = await checkConfig('var-bogus', toml)
      expect(result.code).toBe(1)
      expect(result.stderr).toContain('REGISTRATION: must be "on" or "off"')
    })
  },
)

describe.concurrent(
  'check-config and the rate-limit bindings (docs/rate-limiting.md)',
  CONCURRENT_PROCESSES,
  () => {
    const withoutRateLimits = () => {
      const toml = shipped.replace(/^\[\[ratelimits\]\]\nname = .*\nnamespace_id = .*\nsimple = .*\n/gm, '')
      if (toml.includes('[[ratelimits]]')) throw new Error('wrangler.toml ratelimits entries changed shape')
      return toml
    }

    it('warns for each class whose [[ratelimits]] binding is missing (the layer would fail open)', async () => {
      const result = await checkConfig('no-ratelimits', withoutRateLimits())
      expect(result.code, result.stderr).toBe(0)
      const missing = [...result.stderr.matchAll(/warning: no \[\[ratelimits\]\] binding (RATE_LIMIT_\w+)/g)]
      expect(missing.map((match) => match[1]).sort()).toEqual([
        'RATE_LIMIT_ACCOUNT',
        'RATE_LIMIT_ADDRESS',
        'RATE_LIMIT_DEVICE',
        'RATE_LIMIT_EMAIL',
        'RATE_LIMIT_PASSWORD_CEILING',
        'RATE_LIMIT_REGISTRATION',
        'RATE_LIMIT_TOKEN',
      ])
    })

    it('says nothing about missing bindings while RATE_LIMITING = "off"', async () => {
      const toml = withoutRateLimits().replace('[vars]\n', '[vars]\nRATE_LIMITING = "off"\n')
      const result = await checkConfig('ratelimits-off', toml)
      expect(result.code, result.stderr).toBe(0)
      expect(result.stderr).not.toContain('[[ratelimits]]')
    })
  },
)

describe("check-config refuses a route under the gateway's own segments", CONCURRENT_PROCESSES, () => {
  it('a route at /Admin/reports is an error (exit 1) naming the route and /admin', async () => {
    const toml = `${shipped}\n[[vars.ROUTES]]\npath = "/Admin/reports"\nupstream = "UPSTREAM_URL"\n`
    const routes = shipped.match(/^\[\[vars\.ROUTES\]\]$/gm)?.length ?? 0
    const result = await checkConfigProcess('reserved', toml)
    expect(result.code).toBe(1)
    expect(result.stderr).toContain(
      `ROUTES[${routes}].path: "/Admin/reports" lies under /admin, which the gateway serves itself`,
    )
  })
})

describe('check-config and link_by_verified_email (account pre-hijacking)', { timeout: 60_000 }, () => {
  function linkingByEmail(toml: string): string {
    const line = 'client_secret_secret = "LOCAL_OIDC_CLIENT_SECRET"\n'
    if (!toml.includes(line)) throw new Error('wrangler.toml no longer ships the local-oidc provider')
    return toml.replace(line, `${line}link_by_verified_email = true\n`)
  }

  it('with registration open it is an error (exit 1) naming the field and the setting', async () => {
    const result = await checkConfig('link-email-open', linkingByEmail(openRegistration(shipped)))
    expect(result.code).toBe(1)
    expect(result.stderr).toContain(
      'LOGIN_PROVIDERS[0].link_by_verified_email: must be false while registration is open (SETTINGS.registration = true): ' +
        'anyone could sign up with the owner\'s address, and one careless "Confirm" on the mail that triggers ' +
        "would give that account the owner's later sign-ins (account pre-hijacking)",
    )
  })

  it("with registration closed it passes (exit 0) with a warning to trust the provider's email_verified", async () => {
    const result = await checkConfig('link-email-closed', linkingByEmail(shipped))
    expect(result.code, result.stderr).toBe(0)
    expect(result.stderr).toContain(
      'warning: login provider "local-oidc" has link_by_verified_email = true: a first sign-in joins the account holding',
    )
  })
})
