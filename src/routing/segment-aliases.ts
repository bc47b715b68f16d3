import { GatewayError } from '../errors/gateway-error'
import type { CanonicalPath } from './canonical-path'
import { foldVariants } from './case-folds'

/**
 * Refuses segments that another case-folding semantics reads as a configured route segment the
 * gateway's own key missed (`admın`, `admİn` for `admin`; `strasse` for a configured `straße`).
 * Such a request either matches the route its segment spells or gets 400 `invalid_path`: never a
 * weaker, shorter route whose upstream would still treat it as the protected one.
 *
 * The set is global (every segment of every configured prefix, at any depth): a folded alias of a
 * route name is refused wherever it appears, which costs nothing to check and refuses only
 * spellings no client needs.
 */
export class SegmentAliases {
  /** Match keys of every configured segment. */
  private readonly configured: ReadonlySet<string>
  /** Every fold variant of every configured segment (the keys themselves included). */
  private readonly variants: ReadonlySet<string>
  /** Whether some configured segment is not ASCII, so an ASCII request segment can alias it. */
  private readonly unicodeConfigured: boolean

  constructor(keys: Iterable<string>) {
    const configured = new Set<string>()
    const variants = new Set<string>()
    let unicodeConfigured = false
    for (const key of keys) {
      configured.add(key)
      for (const variant of foldVariants(key)) variants.add(variant)
      if (/[^ -~]/.test(key)) unicodeConfigured = true // keys hold no controls (rejected as bytes)
    }
    this.configured = configured
    this.variants = variants
    this.unicodeConfigured = unicodeConfigured
  }

  /**
   * Throws 400 `invalid_path` for a segment whose own key is not configured but one of its folds is
   * (or is a fold of one that is). Hot path: an ASCII path on a table of ASCII routes returns after
   * two checks, since ASCII case folding agrees across every semantics.
   */
  check(path: CanonicalPath): void {
    const unicode = path.unicode
    if (!unicode && !this.unicodeConfigured) return
    const keys = path.keys
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string
      if (this.configured.has(key)) continue
      const decoded = unicode?.get(i)
      if (decoded === undefined) {
        // ASCII: its folds are its key, which may still be a fold of a non-ASCII route segment.
        if (this.unicodeConfigured && this.variants.has(key)) refuse()
        continue
      }
      for (const variant of foldVariants(decoded)) if (this.variants.has(variant)) refuse()
    }
  }
}

function refuse(): never {
  throw new GatewayError(
    'invalid_path',
    'The request path was rejected: a segment is a case or compatibility variant of a route segment that does not match it exactly.',
  )
}
