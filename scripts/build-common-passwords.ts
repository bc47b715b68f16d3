/**
 * Regenerates src/accounts/common-passwords.json, the blocklist that password-policy.ts checks
 * (NIST SP 800-63B §5.1.1.2: reject values from lists of commonly used passwords).
 *
 * Source: the `passwords-common` dictionary of @zxcvbn-ts/language-common (a dev dependency, so
 * the Worker bundles only the resulting JSON, never the ~2 MB package). That dictionary is ranked
 * by frequency; we take its first TOP_N entries and keep only those the length rule could let
 * through, because shorter or longer ones are rejected before the list is consulted.
 *
 * Usage: npx tsx scripts/build-common-passwords.ts
 */
import { writeFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { dictionary } from '@zxcvbn-ts/language-common'

const TOP_N = 10_000
// Must match MIN_/MAX_PASSWORD_CODE_POINTS in src/accounts/password-policy.ts.
const MIN_CODE_POINTS = 8
const MAX_CODE_POINTS = 128
const OUT = new URL('../src/accounts/common-passwords.json', import.meta.url)

const ranked = dictionary['passwords-common']
const top = ranked.slice(0, TOP_N)
const kept = new Set<string>()
for (const entry of top) {
  // Normalized exactly as checkPassword normalizes its input, so a lookup is a plain Set.has.
  const normalized = entry.normalize('NFC').toLowerCase()
  const length = [...normalized].length
  if (length >= MIN_CODE_POINTS && length <= MAX_CODE_POINTS) kept.add(normalized)
}

// One entry per line keeps diffs of a regenerated list readable.
const json = `[\n${[...kept].map((p) => JSON.stringify(p)).join(',\n')}\n]\n`
writeFileSync(OUT, json)

const gzipped = gzipSync(json).length
console.log(
  `source entries: ${ranked.length}; top ${top.length} taken; ${kept.size} kept (8..128 code points); ` +
    `${json.length} bytes, ${gzipped} bytes gzipped`,
)
