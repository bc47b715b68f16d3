/**
 * `[[vars.ROUTES]]` entries as TOML text. Values are strings, booleans, numbers, arrays of those
 * and arrays of flat objects (inline tables): all a route entry holds. JSON string escapes are
 * valid TOML basic-string escapes, so JSON.stringify writes the strings.
 */
import type { GeneratedRoute } from './openapi-routes'

function value(item: unknown): string {
  if (typeof item === 'string') return JSON.stringify(item)
  if (typeof item === 'number' || typeof item === 'boolean') return String(item)
  if (Array.isArray(item)) return `[${item.map(value).join(', ')}]`
  if (typeof item === 'object' && item !== null)
    return `{ ${Object.entries(item)
      .map(([key, inner]) => `${key} = ${value(inner)}`)
      .join(', ')} }`
  throw new Error(`cannot write ${String(item)} as TOML`)
}

/** Comment lines never break out of the comment: a newline in an operationId is replaced. */
function comment(text: string): string {
  return `# ${text.replace(/[\r\n]+/g, ' ')}`
}

export function routesToml(routes: readonly GeneratedRoute[], header: readonly string[] = []): string {
  const lines = header.map(comment)
  for (const { route, operations } of routes) {
    lines.push('')
    for (const operation of operations) lines.push(comment(operation))
    lines.push('[[vars.ROUTES]]')
    for (const [key, item] of Object.entries(route)) lines.push(`${key} = ${value(item)}`)
  }
  return `${lines.join('\n')}\n`
}
