/**
 * The spellings a path segment takes under the case-insensitive comparisons upstreams use.
 *
 * The gateway matches routes on one key per segment (NFKC, then JS full lowercase). Upstreams
 * compare in other ways, and where theirs equates a segment with a protected route's segment while
 * ours does not, the request would be judged by a weaker route and still land on the protected
 * handler: `/api/adm%C4%B1n` (dotless ı) is `/api` to a naive gateway and `admin` to Java. The
 * route table therefore refuses a segment that any of these folds turns into a configured segment
 * it did not match (see `route-table.ts`). Folds are computed only for non-ASCII segments: on
 * ASCII, every semantics below agrees with plain ASCII lowercasing.
 *
 * Semantics covered, and which variant below stands for each:
 * - Java `String.equalsIgnoreCase` / `regionMatches(true, ...)` (Spring's case-insensitive path
 *   matching, many hand-written routers): per character, equal if `toUpperCase` or
 *   `toLowerCase(toUpperCase(c))` is, with one-to-one (simple) mappings: `ı`→`I`, `ſ`→`S`,
 *   `K` (U+212A)→`k`, `Å` (U+212B)→`å`, `İ`→`i`. → `simpleFold`.
 * - .NET `StringComparison.OrdinalIgnoreCase`: per character simple uppercase (`ı`→`I`,
 *   `ſ`→`S`). Equal simple uppercases have equal lowercases, so → `simpleFold` too.
 * - Python `str.casefold()` (Unicode full case folding, CaseFolding.txt C+F): `ß`→`ss`, `ẞ`→`ss`,
 *   `ﬀ`→`ff`, `ﬁ`→`fi`, `İ`→`i̇` (i + U+0307). → `fullFold` (lower, upper, lower: `ẞ`→`ß`→`SS`→`ss`).
 * - JS `toLowerCase()` / `toUpperCase()` (full mappings, Node/Express routers with
 *   `caseSensitive: false`, many frameworks): → `toLowerCase` and `fullFold`.
 * - Unicode normalization before or after folding (NFKC: ligatures, fullwidth, `ſ`, `K`).
 * - Turkic folding (`İ`→`i`, `ı`→`i`) and implementations that drop the combining dot above
 *   U+0307 that full lowercasing leaves after `i`: → `withoutDotAboveI`.
 */

const COMBINING_DOT_ABOVE_AFTER_I = /(?<=[iI])\u0307/g

// The only character whose simple lowercase differs from itself while its full lowercase is longer
// than one character (UnicodeData.txt vs SpecialCasing.txt): `İ` is `i` to Java, `i̇` to JS.
const SIMPLE_LOWER_EXCEPTIONS: ReadonlyMap<string, string> = new Map([['\u0130', 'i']])

function simpleUpper(char: string): string {
  const upper = char.toUpperCase()
  // A longer result comes from SpecialCasing.txt (`ß`→`SS`); the simple mapping keeps the character.
  return upper.length === char.length ? upper : char
}

function simpleLower(char: string): string {
  const exception = SIMPLE_LOWER_EXCEPTIONS.get(char)
  if (exception !== undefined) return exception
  const lower = char.toLowerCase()
  return lower.length === char.length ? lower : char
}

/** Per character `toLowerCase(toUpperCase(c))` with simple mappings (Java, .NET). */
export function simpleFold(text: string): string {
  let out = ''
  for (const char of text) out += simpleLower(simpleUpper(char))
  return out
}

/** Full mappings: lower, upper, lower (Python casefold, JS). */
export function fullFold(text: string): string {
  return text.toLowerCase().toUpperCase().toLowerCase()
}

function withoutDotAboveI(text: string): string {
  return text.includes('\u0307') ? text.replace(COMBINING_DOT_ABOVE_AFTER_I, '') : text
}

/** The gateway's own match key: what `canonicalizePath` puts in `keys`. */
export function matchKey(decoded: string): string {
  return decoded.normalize('NFKC').toLowerCase()
}

/**
 * Every spelling `decoded` (a decoded path segment) takes under the semantics above, its match key
 * included. At most a few dozen short strings; only non-ASCII segments ever get here.
 */
export function foldVariants(decoded: string): Set<string> {
  const variants = new Set<string>([matchKey(decoded)])
  for (const base of [decoded, decoded.normalize('NFKC')]) {
    for (const folded of [base.toLowerCase(), fullFold(base), simpleFold(base)]) {
      const normalized = matchKey(folded)
      variants.add(folded)
      variants.add(normalized)
      variants.add(withoutDotAboveI(folded))
      variants.add(withoutDotAboveI(normalized))
    }
  }
  return variants
}
