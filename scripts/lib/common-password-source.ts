/**
 * Which passwords the bundled blocklist holds (src/users/common-passwords.generated.ts). Shared by
 * scripts/build-common-passwords.ts, which writes the list, and password-policy.test.ts, which
 * proves every one of them is still rejected after encoding and decoding.
 *
 * Source: the `passwords-common` dictionary of @zxcvbn-ts/language-common (a dev dependency, so
 * the Worker bundles only the resulting list, never the ~2 MB package). That dictionary is ranked
 * by frequency; we take its first TOP_N entries and keep only those the length rule could let
 * through, because shorter or longer ones are rejected before the list is consulted.
 */
import { dictionary } from '@zxcvbn-ts/language-common'
import { MAX_PASSWORD_CODE_POINTS, MIN_PASSWORD_CODE_POINTS } from '../../src/users/password-policy'

export const TOP_N = 10_000

export function rankedCommonPasswords(): readonly string[] {
  return dictionary['passwords-common']
}

/** The blocklist's entries, normalized exactly as checkPassword normalizes its input (NFC, lowercase). */
export function selectCommonPasswords(ranked: readonly string[] = rankedCommonPasswords()): Set<string> {
  const kept = new Set<string>()
  for (const entry of ranked.slice(0, TOP_N)) {
    const normalized = entry.normalize('NFC').toLowerCase()
    const length = [...normalized].length
    if (length >= MIN_PASSWORD_CODE_POINTS && length <= MAX_PASSWORD_CODE_POINTS) kept.add(normalized)
  }
  return kept
}
