/**
 * Which D1/KV the admin CLI acts on (local state, `--persist-to` state, or the deployed ones) and
 * the options every command shares.
 */
import { resolve } from 'node:path'
import { type ParseArgsConfig, parseArgs } from 'node:util'
import { REMOTE_HELP, REMOTE_OPTIONS, type RemoteTarget, readRemote } from './admin-http'
import { devVar, readDevVarsFile } from './dev-vars'

export interface AdminTarget {
  remote: boolean
  /** `[env.NAME]` of wrangler.toml. */
  env?: string
  /** Absolute directory of local state (wrangler's `--persist-to`). */
  persistTo?: string
}

export const TARGET_HELP = `Target (every command):
  --local              the local D1 and KV that \`npm start\` uses (default)
  --remote             the deployed D1 and KV (needs \`wrangler login\` or CLOUDFLARE_API_TOKEN)
  --env NAME           the [env.NAME] section of wrangler.toml
  --persist-to DIR     local state directory (as for \`wrangler dev --persist-to\`)
  -h, --help           this help

${REMOTE_HELP}`

const TARGET_OPTIONS = {
  local: { type: 'boolean' },
  remote: { type: 'boolean' },
  env: { type: 'string' },
  'persist-to': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  ...REMOTE_OPTIONS,
} as const satisfies NonNullable<ParseArgsConfig['options']>

type Options = NonNullable<ParseArgsConfig['options']>

// wrangler takes `--env` as a section name; keep it to what a TOML key and a shell word allow.
const ENV_NAME = /^[A-Za-z0-9_-]{1,64}$/

/** Parses a command's arguments with the shared target options; throws on unknown options. */
export function parseCommandArgs<T extends Options>(args: string[], options: T) {
  const parsed = parseArgs({
    args,
    options: { ...TARGET_OPTIONS, ...options },
    allowPositionals: true,
    strict: true,
  })
  return parsed
}

export function readTarget(values: {
  local?: boolean
  remote?: boolean
  env?: string
  'persist-to'?: string
}): AdminTarget {
  if (values.local && values.remote) throw new Error('--local and --remote exclude each other')
  if (values.env !== undefined && !ENV_NAME.test(values.env)) throw new Error('--env must be a section name')
  if (values.remote && values['persist-to'] !== undefined) {
    throw new Error('--persist-to applies to local state only')
  }
  return {
    remote: values.remote === true,
    env: values.env,
    persistTo: values['persist-to'] === undefined ? undefined : resolve(values['persist-to']),
  }
}

/** The wrangler options that select the target, for `d1 execute` and `kv key put` alike. */
export function targetFlags(target: AdminTarget): string[] {
  const flags = [target.remote ? '--remote' : '--local']
  if (target.env !== undefined) flags.push('--env', target.env)
  if (target.persistTo !== undefined) flags.push('--persist-to', target.persistTo)
  return flags
}

export function describeTarget(target: AdminTarget): string {
  const where = target.remote
    ? 'remote (deployed)'
    : `local${target.persistTo ? ` (${target.persistTo})` : ''}`
  return target.env === undefined ? where : `${where}, env ${target.env}`
}

/**
 * The pepper the Worker mixes into password hashes: PASSWORD_PEPPER from the environment, or for
 * local state the `.dev.vars` entry `wrangler dev` gives the Worker. Without it, new hashes are
 * unpeppered; the Worker still verifies them and re-hashes with its pepper at the first login.
 */
export async function readPepper(target: AdminTarget, projectRoot: string): Promise<string | undefined> {
  const fromEnv = process.env.PASSWORD_PEPPER
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv
  if (target.remote) return undefined
  // wrangler reads `.dev.vars.<env>` instead of `.dev.vars` when it exists and --env is given.
  const envFile =
    target.env === undefined
      ? undefined
      : await readDevVarsFile(resolve(projectRoot, `.dev.vars.${target.env}`))
  const text = envFile ?? (await readDevVarsFile(resolve(projectRoot, '.dev.vars')))
  const value = text === undefined ? undefined : devVar(text, 'PASSWORD_PEPPER')
  return value === '' ? undefined : value
}

/** The admin API to act through (--url), or undefined for D1; refuses a mix of both kinds. */
export function remoteOf(values: {
  url?: string
  token?: string
  remote?: boolean
  local?: boolean
  'persist-to'?: string
  env?: string
}): RemoteTarget | undefined {
  const remote = readRemote(values)
  if (
    remote &&
    (values.remote || values.local || values['persist-to'] !== undefined || values.env !== undefined)
  ) {
    throw new Error('--url acts through the admin API: it excludes --local, --remote, --persist-to and --env')
  }
  return remote
}
