import { experimental_readRawConfig, unstable_readConfig } from 'wrangler'
import { type GatewayConfig, parseConfig } from '../../src/config/load'
import type { Env } from '../../src/env'
import { RATE_LIMIT_CLASSES } from '../../src/rate-limit/classes'

export interface ConfigCheckOptions {
  /** wrangler.toml (or another wrangler config file). */
  configPath: string
  /** `[env.NAME]` to check, as `wrangler deploy --env NAME` would use it. */
  envName?: string
  /** Values that override the file's vars, like `wrangler dev --var` (UPSTREAM_URL, MCP_UPSTREAM_URL, ISSUER). */
  overrides?: Record<string, string>
}

export type ConfigCheck =
  | { ok: true; routes: number; registration: boolean; vars: Record<string, unknown> }
  | { ok: false; problems: string[]; vars: Record<string, unknown> }

/** Throws if `--env NAME` names no `[env.NAME]` section (wrangler itself only warns). */
function assertEnvExists(configPath: string, envName: string): void {
  const { rawConfig } = experimental_readRawConfig({ config: configPath })
  const envs = Object.keys(rawConfig.env ?? {})
  if (!envs.includes(envName)) {
    const known = envs.length > 0 ? envs.join(', ') : 'none'
    throw new Error(`${configPath} has no [env.${envName}] section (environments: ${known})`)
  }
}

/**
 * The vars the Worker gets, resolved by wrangler's own reader. wrangler does NOT inherit top-level
 * `[vars]` into `[env.NAME]`: an environment that sets any var gets only its own, which is exactly
 * what a deployment with `--env NAME` sees, so that is what is checked.
 */
export function readWorkerVars(configPath: string, envName?: string): Record<string, unknown> {
  if (envName !== undefined) assertEnvExists(configPath, envName)
  const config = unstable_readConfig({ config: configPath, env: envName }, { hideWarnings: true })
  return { ...(config.vars as Record<string, unknown>) }
}

/** Validates the configuration with the Worker's own `parseConfig`, offline. */
export function checkConfig(options: ConfigCheckOptions): ConfigCheck {
  const vars = { ...readWorkerVars(options.configPath, options.envName), ...options.overrides }
  // Bindings (DB, KV) are not part of what parseConfig validates; the cast is only for their types.
  const result = parseConfig(vars as Env)
  // The dev mailbox keeps every mail (reset links included) readable at /dev/mailbox: .dev.vars only.
  const mailbox =
    vars.DEV_MAILBOX === undefined
      ? []
      : [
          'DEV_MAILBOX: the dev mailbox is for local development only (.dev.vars); remove it from the deployed config',
        ]
  if (!result.ok) return { ok: false, problems: [...result.problems, ...mailbox], vars }
  if (mailbox.length > 0) return { ok: false, problems: mailbox, vars }
  return {
    ok: true,
    routes: result.config.routes.length,
    registration: result.config.settings.registration,
    vars,
  }
}

/**
 * A warning when the checked (deployed) config opens sign-up: anyone could then create an account
 * and reach every route that only asks for a login. Only the file's vars count; `.dev.vars`, where
 * `npm start` turns registration on for local development, is never deployed.
 */
export function openRegistrationWarning(check: ConfigCheck): string | undefined {
  if (!check.ok || !check.registration) return undefined
  const source = check.vars.REGISTRATION === 'on' ? 'REGISTRATION = "on"' : 'SETTINGS.registration = true'
  return (
    `warning: registration is on (${source}): anyone can sign up with POST /auth/register and ` +
    'reach every route open to authenticated users. Remove it unless open sign-up is intended.'
  )
}

/** Why wrangler would refuse a deployment or deploy a broken one: the placeholder ids shipped in wrangler.toml. */
export function placeholderBindings(configPath: string, envName?: string): string[] {
  const config = unstable_readConfig({ config: configPath, env: envName }, { hideWarnings: true })
  const problems: string[] = []
  for (const db of config.d1_databases) {
    if (!db.database_id || /^0[0-]*$/.test(db.database_id))
      problems.push(
        `d1_databases ${db.binding}: database_id is a placeholder (wrangler d1 create ${db.database_name ?? '<name>'})`,
      )
  }
  for (const kv of config.kv_namespaces) {
    if (!kv.id || /^0+$/.test(kv.id))
      problems.push(
        `kv_namespaces ${kv.binding}: id is a placeholder (wrangler kv namespace create ${kv.binding})`,
      )
  }
  return problems
}

/**
 * Warnings about the rate-limit bindings (docs/rate-limiting.md): a class without its
 * `[[ratelimits]]` entry is not limited (the layer fails open, D1's throttle alone stands), and a
 * period other than the one the gateway assumes makes its `Retry-After` wrong. None while
 * RATE_LIMITING = "off".
 */
export function rateLimitNotes(configPath: string, envName?: string): string[] {
  const config = unstable_readConfig({ config: configPath, env: envName }, { hideWarnings: true })
  if ((config.vars as Record<string, unknown>).RATE_LIMITING === 'off') return []
  const entries: { name: string; simple: { limit: number; period: number } }[] = config.ratelimits ?? []
  const declared = new Map(entries.map((entry) => [entry.name, entry.simple]))
  const notes: string[] = []
  for (const { binding, period, limit } of Object.values(RATE_LIMIT_CLASSES)) {
    const simple = declared.get(binding)
    if (!simple)
      notes.push(
        `warning: no [[ratelimits]] binding ${binding}: its class is not rate limited before D1 (add name = "${binding}", simple = { limit = ${limit}, period = ${period} }; see docs/rate-limiting.md)`,
      )
    else if (simple.period !== period)
      notes.push(
        `warning: [[ratelimits]] ${binding} has period ${simple.period}; the gateway answers its refusals with Retry-After: ${period} (set period = ${period})`,
      )
  }
  return notes
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '0.0.0.0'])

/**
 * Vars that still point at this machine: fine for `npm start`, wrong on Cloudflare, where the
 * issuer must be the public origin and an upstream on loopback is unreachable.
 */
export function loopbackVars(vars: Record<string, unknown>): string[] {
  const found: string[] = []
  for (const [name, value] of Object.entries(vars)) {
    if (typeof value !== 'string' || !/^https?:\/\//.test(value)) continue
    try {
      if (LOOPBACK.has(new URL(value).hostname)) found.push(`${name} = "${value}" points at this machine`)
    } catch {
      // Not a URL: parseConfig reports it if it matters.
    }
  }
  return found
}

function providerEntries(vars: Record<string, unknown>): Record<string, unknown>[] {
  let providers = vars.LOGIN_PROVIDERS
  if (typeof providers === 'string') {
    try {
      providers = JSON.parse(providers)
    } catch {
      return []
    }
  }
  return Array.isArray(providers) ? (providers as Record<string, unknown>[]) : []
}

/** Login providers on this machine (the local stand-ins): unreachable once deployed. */
export function loopbackProviders(vars: Record<string, unknown>): string[] {
  const found: string[] = []
  for (const provider of providerEntries(vars)) {
    for (const key of ['issuer', 'authorization_url', 'token_url', 'api_url']) {
      const value = provider[key]
      if (typeof value !== 'string') continue
      try {
        if (LOOPBACK.has(new URL(value).hostname))
          found.push(
            `login provider "${String(provider.name)}" ${key} points at this machine (a local stand-in)`,
          )
      } catch {
        // parseConfig reports it.
      }
    }
  }
  return found
}

/**
 * Notes on LOGIN_PROVIDERS that only an operator can act on (the config itself is valid): the
 * secret each provider needs (a missing one disables that provider at runtime, with a page
 * saying so), providers on loopback, providers whose first sign-in creates users without any
 * allow-list (open sign-up), and `link_by_verified_email`, which trusts the provider's email_verified.
 */
export function loginProviderNotes(vars: Record<string, unknown>): string[] {
  const notes: string[] = loopbackProviders(vars).map((text) => `warning: ${text}`)
  for (const provider of providerEntries(vars)) {
    const name = String(provider.name)
    const secret = String(provider.client_secret_secret)
    notes.push(
      `login provider "${name}" reads its client secret from ${secret} (wrangler secret put ${secret}; .dev.vars locally)`,
    )
    const open =
      provider.registration === true &&
      !(Array.isArray(provider.allowed_email_domains) && provider.allowed_email_domains.length > 0) &&
      !(Array.isArray(provider.allowed_orgs) && provider.allowed_orgs.length > 0)
    if (open)
      notes.push(
        `warning: login provider "${name}" has registration = true and no allowed_email_domains/allowed_orgs: anyone with an account there can sign up`,
      )
    if (provider.link_by_verified_email === true)
      notes.push(
        `warning: login provider "${name}" has link_by_verified_email = true: a first sign-in joins the account holding the provider's verified email as a verified address, so trust that provider's email_verified (users can also link providers from /auth/identities)`,
      )
  }
  return notes
}

/** The vars `npm start` sets from its environment (or to its demo servers), so the checks do too. */
const ENVIRONMENT_OVERRIDES = ['UPSTREAM_URL', 'MCP_UPSTREAM_URL', 'ISSUER'] as const

/** Those of ENVIRONMENT_OVERRIDES set (non-empty) in `env`: they override the file's vars. */
export function environmentOverrides(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const overrides: Record<string, string> = {}
  for (const name of ENVIRONMENT_OVERRIDES) {
    const value = env[name]
    if (value) overrides[name] = value
  }
  return overrides
}

/** The Worker's compiled configuration (route table included), or an Error listing every problem. */
export function compileWorkerConfig(configPath: string, envName?: string): GatewayConfig {
  const vars = { ...readWorkerVars(configPath, envName), ...environmentOverrides() }
  const result = parseConfig(vars as Env)
  if (!result.ok) throw new Error(`${configPath}: invalid configuration\n${result.problems.join('\n')}`)
  return result.config
}
