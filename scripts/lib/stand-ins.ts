/**
 * The local config's two stand-in login providers, which `npm start` runs on loopback next to the
 * gateway: `local-oidc` (panva's oidc-provider, standing in for Google) and `local-github` (a
 * GitHub-compatible OAuth server). Their client secrets live in .dev.vars like SIGNING_KEYS.
 * wrangler.toml points them at the default ports; other ports (OIDC_STAND_IN_PORT,
 * GITHUB_STAND_IN_PORT) reach the Worker as a `--var LOGIN_PROVIDERS:<json>` override.
 */
import { randomBytes } from 'node:crypto'
import { info } from './cli'
import { devVar, formatDevVar } from './dev-vars'
import { startGithubStandIn } from './github-stand-in'
import { parsePort } from './ports'

export const STAND_INS = {
  oidc: { name: 'local-oidc', secret: 'LOCAL_OIDC_CLIENT_SECRET', portVar: 'OIDC_STAND_IN_PORT', port: 8789 },
  github: {
    name: 'local-github',
    secret: 'LOCAL_GITHUB_CLIENT_SECRET',
    portVar: 'GITHUB_STAND_IN_PORT',
    port: 8790,
  },
} as const

type ProviderEntry = Record<string, unknown> & { name?: unknown; client_id?: unknown }

/** .dev.vars lines for stand-in client secrets that are missing (empty when all are there). */
export function missingStandInSecrets(existing: string | undefined): string {
  let text = ''
  for (const stand of Object.values(STAND_INS)) {
    if (existing !== undefined && devVar(existing, stand.secret)) continue
    text += formatDevVar(stand.secret, randomBytes(24).toString('base64url'))
  }
  return text
}

export interface RunningStandIns {
  /** `--var LOGIN_PROVIDERS:<json>` when the ports differ from wrangler.toml's, else nothing. */
  wranglerArgs: string[]
  summary: string[]
  close(): Promise<void>
}

function replaceOrigin(entry: ProviderEntry, from: string, to: string): ProviderEntry {
  const out: ProviderEntry = { ...entry }
  for (const key of ['issuer', 'authorization_url', 'token_url', 'api_url'])
    if (typeof out[key] === 'string') out[key] = (out[key] as string).replace(from, to)
  return out
}

/**
 * Starts the stand-ins the config names (LOGIN_PROVIDERS from wrangler's own reader). A port that
 * is taken is reported and that stand-in skipped: the gateway still starts, and its button then
 * shows "cannot be reached".
 */
export async function startStandIns(
  providers: unknown,
  devVars: string,
  gatewayOrigin: string,
  host: string,
): Promise<RunningStandIns> {
  const entries = (Array.isArray(providers) ? providers : []) as ProviderEntry[]
  const closers: (() => Promise<void>)[] = []
  const summary: string[] = []
  let changed = false
  let updated = entries
  for (const [kind, stand] of Object.entries(STAND_INS)) {
    const entry = entries.find((provider) => provider.name === stand.name)
    if (!entry) continue
    const port = parsePort(process.env[stand.portVar], stand.portVar, stand.port)
    const common = {
      port,
      host,
      clientId: String(entry.client_id),
      clientSecret: devVar(devVars, stand.secret) ?? '',
      redirectUris: [`${gatewayOrigin}/auth/callback/${stand.name}`],
    }
    try {
      const origin =
        kind === 'oidc'
          ? // Loaded only when needed: oidc-provider takes most of a second to import.
            await (await import('./oidc-stand-in')).startOidcStandIn(common).then((running) => {
              closers.push(running.close)
              return running.issuer
            })
          : await startGithubStandIn(common).then((running) => {
              closers.push(running.close)
              return running.origin
            })
      summary.push(`${stand.name.padEnd(12)} ${origin}`)
      const shipped = `http://${host}:${stand.port}`
      if (origin !== shipped) {
        changed = true
        updated = updated.map((provider) =>
          provider.name === stand.name ? replaceOrigin(provider, shipped, origin) : provider,
        )
      }
    } catch (error) {
      info(
        `warning: cannot start the ${stand.name} stand-in on ${host}:${port} (${String(error)}); set ${stand.portVar}`,
      )
    }
  }
  return {
    wranglerArgs: changed ? ['--var', `LOGIN_PROVIDERS:${JSON.stringify(updated)}`] : [],
    summary,
    close: async () => {
      await Promise.all(closers.map((close) => close()))
    },
  }
}
