/**
 * What the key-set secrets (SIGNING_KEYS, DATA_KEYS) share: JSON checked against a schema with the
 * first problem as the reason, and one import per isolate and secret value.
 */
import type * as z from 'zod/mini'

/** The secret parsed and checked; `misconfigured(reason)` makes the error (never the key material). */
export function parseKeySetSecret<T>(
  schema: z.ZodMiniType<T>,
  secret: string,
  misconfigured: (reason: string) => Error,
): T {
  let parsed: unknown
  try {
    parsed = JSON.parse(secret)
  } catch {
    throw misconfigured('is not valid JSON')
  }
  const result = schema.safeParse(parsed)
  if (!result.success) {
    const issue = result.error.issues[0]
    throw misconfigured(`${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`)
  }
  return result.data
}

/**
 * `load(secret)`, imported once per isolate and per secret value: a rotated secret (a new
 * deployment) re-imports, and a failed import is not kept, so the next request tries again.
 */
export function importedPerSecret<T>(load: (secret: string) => Promise<T>): (secret: string) => Promise<T> {
  let cached: { secret: string; value: Promise<T> } | undefined
  return (secret) => {
    if (cached?.secret !== secret) {
      const value = load(secret)
      const entry = { secret, value }
      cached = entry
      value.catch(() => {
        if (cached === entry) cached = undefined
      })
    }
    return cached.value
  }
}
