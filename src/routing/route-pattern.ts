import { canonicalizePath } from './canonical-path'

/**
 * A route path as the table matches it. Plain paths (`/api/admin`) are prefixes, as they always
 * were: they cover themselves and every path below. Templated paths (`/items/{item_id}/owner`,
 * OpenAPI's path templating) hold whole-segment parameters and match exactly their own depth,
 * as an OpenAPI path does; a trailing `{rest*}` makes one cover the paths below it too
 * (`/files/{rest*}` is the same as the plain `/files`). A route's `match` setting overrides the
 * default: `exact` for a plain path that must not cover the paths below it (what the OpenAPI
 * importer writes: `/users/me` must not judge `/users/me/items`, which the upstream serves as
 * `/users/{user_id}/items`), `prefix` for a template that should.
 */
export interface RoutePattern {
  /**
   * Match keys per segment, `PARAM_KEY` for a parameter; a trailing `{rest*}` is not a key (it
   * is `exact: false`).
   */
  keys: string[]
  /** The route's own spelling of each segment (undefined for a parameter), for `authorizedPath`. */
  spellings: (string | undefined)[]
  /** True for a templated path without `{rest*}`: it matches no longer path. */
  exact: boolean
  /** Parameter names in order, `{rest*}`'s included (the importer and explain show them). */
  params: string[]
}

/**
 * Stands for a parameter in `keys`. Literal route segments may not contain braces (rejected
 * below), so no configured literal collides with it; request keys never reach the trie as this
 * value because parameters live in their own child, not in the literal children map.
 */
export const PARAM_KEY = '{}'

// OpenAPI allows any name; we accept the names real specs use (FastAPI's snake_case, `owner`,
// `repo-id`, `api.version`) and keep braces, slashes and `*` out of them.
const PARAM = /^\{([A-Za-z_][A-Za-z0-9_.-]{0,63})\}$/
const REST = /^\{([A-Za-z_][A-Za-z0-9_.-]{0,63})\*\}$/

const NOT_CANONICAL = 'must be canonical (no trailing slash, no encoded unreserved characters)'

export type PatternResult = { ok: true; pattern: RoutePattern } | { ok: false; problem: string }

function fail(problem: string): PatternResult {
  return { ok: false, problem }
}

/** Whether a configured path holds a template (then its matching is exact unless `{rest*}`). */
export function isTemplated(path: string): boolean {
  return path.includes('{')
}

/**
 * Parses a configured route path. Literal segments must be canonical (the spelling
 * `canonicalizePath` gives them, no trailing slash) and brace-free; a parameter fills a whole
 * segment; `{rest*}` only last; no name twice.
 */
export function parseRoutePath(path: string, match?: 'exact' | 'prefix'): PatternResult {
  if (!path.startsWith('/')) return fail('must start with "/"')
  if (path !== '/' && path.endsWith('/')) return fail(NOT_CANONICAL)
  const templated = isTemplated(path)
  const raw = path === '/' ? [] : path.slice(1).split('/')
  const pattern: RoutePattern = { keys: [], spellings: [], exact: templated, params: [] }
  for (let i = 0; i < raw.length; i++) {
    const segment = raw[i] as string
    const rest = REST.exec(segment)
    const param = PARAM.exec(segment)
    if (rest) {
      if (i !== raw.length - 1) return fail(`"${segment}" may only be the last segment`)
      pattern.exact = false
      pattern.params.push(rest[1] as string)
      continue
    }
    if (param) {
      pattern.keys.push(PARAM_KEY)
      pattern.spellings.push(undefined)
      pattern.params.push(param[1] as string)
      continue
    }
    if (/[{}]/.test(segment))
      return fail(
        `segment "${segment}": a parameter must fill a whole segment ("{name}", or "{name*}" last), with a name of letters, digits, "_", ".", "-"`,
      )
    let canonical: ReturnType<typeof canonicalizePath>
    try {
      canonical = canonicalizePath(`/${segment}`)
    } catch (error) {
      return fail(error instanceof Error ? error.message : 'invalid')
    }
    const key = canonical.keys[0]
    if (canonical.path !== `/${segment}` || key === undefined) return fail(NOT_CANONICAL)
    // An encoded brace would read as a parameter to anyone reading the table (and to the importer).
    if (/[{}]/.test(key)) return fail(`segment "${segment}": encoded braces are not allowed`)
    pattern.keys.push(key)
    pattern.spellings.push(segment)
  }
  if (match === 'exact') {
    if (/\*\}$/.test(path)) return fail('match = "exact" contradicts a trailing {rest*}')
    pattern.exact = true
  } else if (match === 'prefix') pattern.exact = false
  const names = new Set<string>()
  for (const name of pattern.params) {
    if (names.has(name)) return fail(`parameter "{${name}}" appears twice`)
    names.add(name)
  }
  return { ok: true, pattern }
}
