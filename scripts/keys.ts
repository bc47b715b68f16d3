/**
 * `npm run --silent keys -- generate | rotate`: prints a value for the SIGNING_KEYS secret.
 * stdout carries the value and nothing else, so it can be piped straight into
 * `wrangler secret put SIGNING_KEYS`; every message goes to stderr.
 */
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { describeError, fail, info, scriptArgs, wantsHelp } from './lib/cli'
import { DEV_VARS_FILE, devVar, readDevVarsFile } from './lib/dev-vars'
import { generateKeySet, parseSigningAlg, rotateKeySet } from './lib/key-set'

const HELP = `Usage: npm run --silent keys -- <command> [options]

Prints a value for the SIGNING_KEYS secret (a private JWK set; the first key signs, all verify).
Only the value goes to stdout. Use \`npm run --silent\`: without it npm prints its own banner to
stdout too, which would end up in the secret.

Commands:
  generate   a new key set with one key
  rotate     the current key set with a new signing key prepended

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

async function currentValue(fromFile: string | undefined): Promise<string> {
  if (fromFile === '-') return readStdin()
  if (fromFile !== undefined) return readFile(fromFile, 'utf8')
  if (!process.stdin.isTTY) {
    const piped = await readStdin()
    if (piped.trim() !== '') return piped
  }
  const devVars = await readDevVarsFile()
  const value = devVars === undefined ? undefined : devVar(devVars, 'SIGNING_KEYS')
  if (!value) {
    throw new Error(
      `no current value: pass --from-file PATH, pipe it on stdin, or set SIGNING_KEYS in ${DEV_VARS_FILE}`,
    )
  }
  info(`rotating SIGNING_KEYS from ${DEV_VARS_FILE}`)
  return value
}

async function main(): Promise<void> {
  const [command, ...rest] = scriptArgs()
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(HELP)
    if (command === undefined) process.exitCode = 2
    return
  }
  if (command !== 'generate' && command !== 'rotate') fail(`unknown command "${command}"\n\n${HELP}`, 2)
  const help = command === 'generate' ? GENERATE_HELP : ROTATE_HELP
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
  if (command === 'generate' && values['from-file'] !== undefined)
    fail(`generate takes no --from-file\n\n${help}`, 2)
  try {
    const alg = parseSigningAlg(values.alg)
    const value =
      command === 'generate'
        ? await generateKeySet(alg)
        : await rotateKeySet(await currentValue(values['from-file']), alg)
    process.stdout.write(`${value}\n`)
    const count = (JSON.parse(value) as { keys: unknown[] }).keys.length
    info(
      `SIGNING_KEYS: ${count} key(s), the first one signs. Store it with: npx wrangler secret put SIGNING_KEYS`,
    )
  } catch (error) {
    fail(describeError(error))
  }
}

await main()
