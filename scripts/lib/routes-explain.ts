/**
 * `npm run routes -- explain METHOD PATH`: asks a running gateway's `POST /admin/explain` what it
 * would do with the request, and prints the answer. The credential to explain (`--token`,
 * `--api-key`) is sent to the gateway inside the explain request, never printed.
 */
import { parseArgs } from 'node:util'

/**
 * The part of src/proxy/explanation.ts's answer printed here (restated: importing it would pull
 * the Worker's request path, and its Workers-only types, into the Node type check).
 */
interface Explanation {
  canonical_path?: string
  rejected?: { error: string; reason: string }
  route: {
    index: number
    path: string
    host?: string
    match: string
    /** `assertion` when the route sends X-Auth-Assertion and X-Auth-User-Id only. */
    identity?: string
    beat: { index: number; path: string; why: string }[]
  } | null
  rule: {
    access: string
    credentials: string[]
    roles: string[]
    scopes: string[]
    any_of?: unknown[]
    delegated?: 'allow' | 'deny'
    method_rule: boolean
  } | null
  principal: {
    id: string
    username: string
    auth_method: string
    roles: string[]
    scopes: string[]
    client_id?: string
    delegated?: true
  } | null
  decision: { allow: boolean; status: number; error?: string }
  reason: string
}

export const EXPLAIN_HELP = `  explain METHOD PATH         what the gateway would do with this request (POST /admin/explain)
      --token T | --api-key K the credential the request would carry (or --header "Name: value")
      --url URL               the gateway (default GATEWAY_URL, else http://127.0.0.1:8787)
      --admin-token T         an access token with the admin role (default GATEWAY_ADMIN_TOKEN)
      --json                  print the answer as JSON`

function headersFrom(values: {
  token?: string
  'api-key'?: string
  header: string[]
}): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const line of values.header) {
    const colon = line.indexOf(':')
    if (colon <= 0) throw new Error(`--header "${line}" is not "Name: value"`)
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  if (values.token) headers.authorization = `Bearer ${values.token}`
  if (values['api-key']) headers['x-api-key'] = values['api-key']
  return headers
}

function summary(answer: Explanation): string {
  const lines = [
    answer.canonical_path !== undefined
      ? `path:      ${answer.canonical_path}`
      : `path:      rejected (${answer.rejected?.error}): ${answer.rejected?.reason}`,
  ]
  if (answer.route) {
    const route = answer.route
    lines.push(
      `route:     ROUTES[${route.index}] ${route.path} (${route.match}${route.host ? `, host ${route.host}` : ''}${route.identity ? `, identity ${route.identity}` : ''})`,
    )
    for (const other of route.beat)
      lines.push(`           beat ROUTES[${other.index}] ${other.path}: ${other.why}`)
  }
  if (answer.rule) {
    const rule = answer.rule
    const parts = [rule.access, `credentials ${rule.credentials.join(', ')}`]
    if (rule.roles.length) parts.push(`roles any of ${rule.roles.join(', ')}`)
    if (rule.scopes.length) parts.push(`scopes ${rule.scopes.join(' ')}`)
    if (rule.any_of) parts.push(`any_of ${JSON.stringify(rule.any_of)}`)
    if (rule.delegated === 'deny') parts.push('delegated deny (no token issued to an app)')
    lines.push(`rule:      ${parts.join('; ')}${rule.method_rule ? ' (method rule)' : ''}`)
  }
  if (answer.principal) {
    const who = answer.principal
    const app = who.client_id ? `; ${who.delegated ? 'delegated to' : 'client'} ${who.client_id}` : ''
    lines.push(
      `principal: ${who.username} (${who.id}) by ${who.auth_method}${app}; roles ${who.roles.join(', ') || '-'}; scopes ${who.scopes.join(' ') || '-'}`,
    )
  }
  const decision = answer.decision
  lines.push(
    `decision:  ${decision.allow ? 'allow' : 'refuse'} ${decision.status}${decision.error ? ` ${decision.error}` : ''}`,
  )
  lines.push(`reason:    ${answer.reason}`)
  return `${lines.join('\n')}\n`
}

export async function explainCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      token: { type: 'string' },
      'api-key': { type: 'string' },
      header: { type: 'string', multiple: true, default: [] },
      url: { type: 'string' },
      'admin-token': { type: 'string' },
      json: { type: 'boolean' },
    },
    allowPositionals: true,
    strict: true,
  })
  const [method, path] = positionals
  if (!method || !path || positionals.length !== 2) throw new Error('explain takes METHOD and PATH')
  if (values.token && values['api-key']) throw new Error('--token and --api-key exclude each other')
  const url = (values.url ?? process.env.GATEWAY_URL ?? 'http://127.0.0.1:8787').replace(/\/$/, '')
  const adminToken = values['admin-token'] ?? process.env.GATEWAY_ADMIN_TOKEN
  if (!adminToken)
    throw new Error('explain needs --admin-token (or GATEWAY_ADMIN_TOKEN): an admin access token')
  const response = await fetch(`${url}/admin/explain`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ method: method.toUpperCase(), path, headers: headersFrom(values) }),
  })
  const text = await response.text()
  if (response.status !== 200)
    throw new Error(`${url}/admin/explain answered ${response.status}: ${text.slice(0, 500)}`)
  const answer = JSON.parse(text) as Explanation
  process.stdout.write(values.json ? `${JSON.stringify(answer, null, 2)}\n` : summary(answer))
  return 0
}
