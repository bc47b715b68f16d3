/**
 * `npm run --silent keys -- generate | rotate | generate-data | rotate-data`: prints a value for
 * the SIGNING_KEYS secret (or, with the `-data` commands, DATA_KEYS). stdout carries the value
 * and nothing else, so it can be piped straight into `wrangler secret put`; every message goes to
 * stderr.
 */
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { describeError, fail, info, scriptArgs, wantsHelp } from './lib/cli'
import { DEV_VARS_FILE, devVar, readDevVarsFile } from './lib/dev-vars'
import {
  generateDataKeySet,
  generateKeySet,
  parseSigningAlg,
  rotateDataKeySet,
  rotateKeySet,
} from './lib/key-set'

const HELP = `Usage: npm run --silent keys -- <command> [options]

Prints a value for the SIGNING_KEYS secret (a private JWK set; the first key signs, all verify)
or the DATA_KEYS secret (AES-256-GCM keys that seal stored secrets; the first seals, all open).
Only the value goes to stdout. Use \`npm run --silent\`: without it npm prints its own banner to
stdout too, which would end up in the secret.

Commands:
  generate        a new SIGNING_KEYS set with one key
  rotate          the current SIGNING_KEYS set with a new signing key prepended
  generate-data   a new DATA_KEYS set with one key
  rotate-data     the current DATA_KEYS set with a new sealing key prepended

Run \`npm run --silent keys -- <command> --help\` for a command's options.
`

const GENERATE_HELP = `Usage: npm run --silent keys -- generate [--alg ES256|EdDSA]

Prints a new SIGNING_KEYS value holding one freshly generated private key.

  --alg ALG    ES256 (default) or EdDSA (Ed25519)

Deploy it:  npm run --silent keys -- generate | npx wrangler secret put SIGNING_KEYS
`

const ROTATE_HELP = `Usage: npm run --silent keys -- rotate [--from-file PATH] [--alg ES256|EdDSA]

Prints the current SIGNING_KEYS value with a new key in front. After deploying it, the new key
signs; the old keys still verify tokens issued before (keep them at least as long as the longest
refresh or access token lifetime, then drop them from the end of the list).

The current value is read from, in order:
  --from-file PATH   a file holding the value ("-" for stdin)
  stdin              when something is piped in
  .dev.vars          its SIGNING_KEYS entry (local development)

  --alg ALG          algorithm of the new key (default: that of the current signing key)

Wrangler cannot read a secret back, so for production keep the current value in your secret
store and pipe it in:  <your store> | npm run --silent keys -- rotate | npx wrangler secret put SIGNING_KEYS
`

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

const GENERATE_DATA_HELP = `Usage: npm run --silent keys -- generate-data

Prints a new DATA_KEYS value holding one random 256-bit AES-GCM key (a JWK, kty "oct", alg
"A256GCM"), derived from nothing else. The gateway seals stored secrets (TOTP secrets) with it.

Deploy it:  npm run --silent keys -- generate-data | npx wrangler secret put DATA_KEYS
`

const ROTATE_DATA_HELP = `Usage: npm run --silent keys -- rotate-data [--from-file PATH]

Prints the current DATA_KEYS value with a new key in front. After deploying it, the new key seals;
the old keys still open what they sealed. Drop an old key (from the end of the list) only once
every value sealed under it has been re-sealed: a value whose key is gone no longer opens.

The current value is read from, in order:
  --from-file PATH   a file holding the value ("-" for stdin)
  stdin              when something is piped in
  .dev.vars          its DATA_KEYS entry (local development)

<your store> | npm run --silent keys -- rotate-data | npx wrangler secret put DATA_KEYS
`

interface Command {
  secret: 'SIGNING_KEYS' | 'DATA_KEYS'
  help: string
  /** The new value; `current` reads the value to rotate. */
  run: (options: { alg?: string }, current: () => Promise<string>) => Promise<string>
  takes: { alg: boolean; fromFile: boolean }
}

const COMMANDS: Record<string, Command> = {
  generate: {
    secret: 'SIGNING_KEYS',
    help: GENERATE_HELP,
    run: (options) => generateKeySet(parseSigningAlg(options.alg)),
    takes: { alg: true, fromFile: false },
  },
  rotate: {
    secret: 'SIGNING_KEYS',
    help: ROTATE_HELP,
    run: async (options, current) => rotateKeySet(await current(), parseSigningAlg(options.alg)),
    takes: { alg: true, fromFile: true },
  },
  'generate-data': {
    secret: 'DATA_KEYS',
    help: GENERATE_DATA_HELP,
    run: () => generateDataKeySet(),
    takes: { alg: false, fromFile: false },
  },
  'rotate-data': {
    secret: 'DATA_KEYS',
    help: ROTATE_DATA_HELP,
    run: async (_options, current) => rotateDataKeySet(await current()),
    takes: { alg: false, fromFile: true },
  },
}

async function currentValue(secret: Command['secret'], fromFile: string | undefined): Promise<string> {
  if (fromFile === '-') return readStdin()
  if (fromFile !== undefined) return readFile(fromFile, 'utf8')
  if (!process.stdin.isTTY) {
    const piped = await readStdin()
    if (piped.trim() !== '') return piped
  }
  const devVars = await readDevVarsFile()
  const value = devVars === undefined ? undefined : devVar(devVars, secret)
  if (!value) {
    throw new Error(
      `no current value: pass --from-file PATH, pipe it on stdin, or set ${secret} in ${DEV_VARS_FILE}`,
    )
  }
  info(`rotating ${secret} from ${DEV_VARS_FILE}`)
  return value
}

async function main(): Promise<void> {
  const [command, ...rest] = scriptArgs()
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(HELP)
    if (command === undefined) process.exitCode = 2
    return
  }
  const chosen = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined
  if (!chosen) fail(`unknown command "${command}"\n\n${HELP}`, 2)
  const { help, secret, takes } = chosen
  if (wantsHelp(rest)) {
    process.stdout.write(help)
    return
  }
  let values: { alg?: string; 'from-file'?: string }
  try {
    ;({ values } = parseArgs({
      args: rest,
      options: { alg: { type: 'string' }, 'from-file': { type: 'string' } },
      strict: true,
    }))
  } catch (error) {
    fail(`${describeError(error)}\n\n${help}`, 2)
  }
  if (!takes.fromFile && values['from-file'] !== undefined)
    fail(`${command} takes no --from-file\n\n${help}`, 2)
  if (!takes.alg && values.alg !== undefined) fail(`${command} takes no --alg\n\n${help}`, 2)
  try {
    const value = await chosen.run(values, () => currentValue(secret, values['from-file']))
    process.stdout.write(`${value}\n`)
    const count = (JSON.parse(value) as { keys: unknown[] }).keys.length
    const first = secret === 'SIGNING_KEYS' ? 'signs' : 'seals'
    info(
      `${secret}: ${count} key(s), the first one ${first}. Store it with: npx wrangler secret put ${secret}`,
    )
  } catch (error) {
    fail(describeError(error))
  }
}

await main()
