/**
 * docs/capacity.md's cost table, asserted: each operation runs once through the production entry
 * with metered D1 and KV bindings (support/storage-meter.ts), and what it cost must equal the row
 * the document gives it. Change the code's storage traffic and this fails until the document says so.
 */
import { describe, expect, it } from 'vitest'
import capacityDoc from '../docs/capacity.md?raw'
import { bearer, createUser, login, PASSWORD, type Tokens } from './support/accounts'
import { adminToken } from './support/admin'
import { createApiKey } from './support/api-keys'
import { createCodeClient, issueCode, REDIRECT } from './support/authorization-code'
import { gatewayFetch } from './support/gateway'
import { browserLogin, sameOrigin } from './support/sessions'
import { type MeteredFetch, meter, type StorageUsage } from './support/storage-meter'

const FORM = { 'content-type': 'application/x-www-form-urlencoded' }
const JSON_BODY = { 'content-type': 'application/json' }
// Production always has a client address (Cloudflare sets it): the per-address throttle runs.
const CLIENT = { 'cf-connecting-ip': '203.0.113.40' }
const BASIC_ROUTES = [{ path: '/legacy', upstream: 'UPSTREAM_URL', credentials: ['basic'] }]
/** The isolate caches of credentials (sessions, API keys, revocation answers) hold records 2 s. */
const ISOLATE_CACHE_MS = 2_000

type Row = Omit<StorageUsage, 'auditRowsWritten'>

/** The first table under "## Cost of each operation": operation → its storage columns. */
function documentedCosts(markdown: string): Map<string, Row> {
  const section = markdown.split(/^## /m).find((part) => part.startsWith('Cost of each operation'))
  if (!section) throw new Error('docs/capacity.md has no "## Cost of each operation" section')
  const lines = section.split('\n').filter((line) => line.startsWith('|'))
  const cells = (line: string) =>
    line
      .slice(1, -1)
      .split('|')
      .map((cell) => cell.trim())
  const header = cells(lines[0] ?? '')
  const column = (name: string) => {
    const index = header.indexOf(name)
    if (index < 0) throw new Error(`docs/capacity.md: no column "${name}"`)
    return index
  }
  const columns = {
    op: column('Operation'),
    d1Calls: column('D1 calls'),
    d1Statements: column('D1 statements'),
    d1RowsWritten: column('D1 rows written'),
    auditEvents: column('Audit events'),
    kvReads: column('KV reads'),
    kvWrites: column('KV writes'),
    kvKeys: column('KV keys read / written'),
  }
  const rows = new Map<string, Row>()
  for (const line of lines.slice(2)) {
    const row = cells(line)
    const number = (index: number) => Number(row[index])
    rows.set(row[columns.op] ?? '', {
      d1Calls: number(columns.d1Calls),
      d1Statements: number(columns.d1Statements),
      d1RowsWritten: number(columns.d1RowsWritten),
      auditEvents: number(columns.auditEvents),
      kvReads: number(columns.kvReads),
      kvWrites: number(columns.kvWrites),
      kvKeys: row[columns.kvKeys] ?? '',
    })
  }
  return rows
}

const documented = documentedCosts(capacityDoc)
const measured = new Map<string, StorageUsage>()

function form(params: Record<string, string>, headers: Record<string, string> = {}): RequestInit {
  return { method: 'POST', headers: { ...FORM, ...CLIENT, ...headers }, body: new URLSearchParams(params) }
}

function json(method: string, token: string, body?: unknown): RequestInit {
  return {
    method,
    headers: { ...bearer(token), ...JSON_BODY, ...CLIENT },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  }
}

/** Meters one request and keeps its usage under `operation`; the response must have `status`. */
async function measure(
  operation: string,
  status: number,
  path: string,
  init: RequestInit = {},
  overrides: Parameters<typeof meter>[1] = {},
): Promise<Response> {
  let response: Response | undefined
  const usage = await meter(async (fetch: MeteredFetch) => {
    response = await fetch(path, init)
  }, overrides)
  if (!response) throw new Error('no response')
  const text = await response.clone().text()
  expect(response.status, `${operation}: ${text}`).toBe(status)
  measured.set(operation, usage)
  return response
}

function basic(username: string, password = PASSWORD): Record<string, string> {
  return { authorization: `Basic ${btoa(`${username}:${password}`)}` }
}

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('docs/capacity.md: the storage cost of each operation is what the code does', () => {
  it('measures every operation of the table through the production entry', async () => {
    // Set-up through the unmetered gateway. Each operation has a user of its own, so no answer an
    // earlier measurement left in the isolate's caches (a subject's revocation entry) is reused.
    for (const name of ['cap-login', 'cap-browser', 'cap-basic', 'cap-token', 'cap-session', 'cap-key'])
      await createUser(name)
    for (const name of ['cap-refresh', 'cap-out', 'cap-all']) await createUser(name)
    const admin = await adminToken('cap-admin')
    const target = await createUser('cap-target')
    const token = await login('cap-token')
    const refresh = await login('cap-refresh')
    const out = await login('cap-out')
    const all = await login('cap-all')
    const session = await browserLogin('cap-session')
    const key = await createApiKey((await login('cap-key')).access_token, { name: 'capacity key' })
    await createCodeClient('cap-app')
    const code = await issueCode('cap-app', target.id)
    // Every credential above is now out of this isolate's 2 s caches: a request is its first here.
    await wait(ISOLATE_CACHE_MS + 100)

    await measure('password login (password grant)', 200, '/auth/token', {
      ...form({ grant_type: 'password', username: 'cap-login', password: PASSWORD }),
    })
    await measure('failed login (wrong password)', 400, '/auth/token', {
      ...form({ grant_type: 'password', username: 'cap-login', password: 'not the password' }),
    })
    const signIn = await browserLogin('cap-browser', {
      through: async (path, init) =>
        init?.method === 'POST'
          ? measure('browser sign-in (session created)', 303, path, {
              ...init,
              headers: { ...(init.headers as Record<string, string>), ...CLIENT },
            })
          : gatewayFetch(path, init),
    })
    expect(signIn.session).not.toBe('')
    // Basic caches nothing: the second request costs what the first did, bar the throttle rows.
    for (const operation of ['Basic request, first', 'Basic request, repeated']) {
      const headers = { ...basic('cap-basic'), ...CLIENT }
      await measure(operation, 200, '/legacy/x', { headers }, { ROUTES: BASIC_ROUTES })
    }
    await measure('access token, first use in an isolate', 200, '/api/x', {
      headers: bearer(token.access_token),
    })
    await measure('access token, warm', 200, '/api/x', { headers: bearer(token.access_token) })
    await measure('session check, first use in an isolate', 200, '/app/x', { headers: sameOrigin(session) })
    await measure('session check, warm', 200, '/app/x', { headers: sameOrigin(session) })
    await measure('API key, first use', 200, '/api/x', { headers: { 'x-api-key': key.key } })
    await measure('API key, warm', 200, '/api/x', { headers: { 'x-api-key': key.key } })
    const refreshed = await measure(
      'refresh',
      200,
      '/auth/token',
      form({ grant_type: 'refresh_token', refresh_token: refresh.refresh_token ?? '' }),
    )
    expect(((await refreshed.json()) as Tokens).refresh_token).toMatch(/^rt_/)
    await measure(
      'code exchange',
      200,
      '/auth/token',
      form({
        grant_type: 'authorization_code',
        code: code.code,
        redirect_uri: REDIRECT,
        code_verifier: code.verifier,
        client_id: 'cap-app',
      }),
    )
    await measure('logout (access token)', 204, '/auth/logout', {
      method: 'POST',
      headers: { ...bearer(out.access_token), ...CLIENT },
    })
    await measure('logout-all', 204, '/auth/logout-all', {
      method: 'POST',
      headers: { ...bearer(all.access_token), ...CLIENT },
    })
    await measure('registration', 201, '/auth/register', {
      method: 'POST',
      headers: { ...JSON_BODY, ...CLIENT },
      body: JSON.stringify({ username: 'cap-registered', password: 'registered passphrase 77' }),
    })
    const created = await measure(
      'admin: create user',
      201,
      '/admin/users',
      json('POST', admin.token, { username: 'cap-managed', password: 'managed passphrase 55' }),
    )
    const managed = (await created.json()) as { id: string }
    await measure(
      'admin: change roles',
      200,
      `/admin/users/${managed.id}`,
      json('PATCH', admin.token, { roles: ['editor'] }),
    )
    const adminKey = await measure(
      'admin: create API key',
      201,
      `/admin/users/${managed.id}/api-keys`,
      json('POST', admin.token, { name: 'managed key' }),
    )
    const { id: adminKeyId } = (await adminKey.json()) as { id: string }
    await measure('admin: revoke API key', 204, `/admin/api-keys/${adminKeyId}`, json('DELETE', admin.token))
    await measure('admin: revoke user', 200, `/admin/users/${managed.id}/revoke`, json('POST', admin.token))
    await measure('admin: delete user', 204, `/admin/users/${managed.id}`, json('DELETE', admin.token))

    const table = [...documented.keys()].filter((operation) => operation !== 'audit flush')
    expect([...measured.keys()].sort()).toEqual(table.sort())
    for (const [operation, usage] of measured) {
      const { auditRowsWritten: _flushOnly, ...row } = usage
      expect(row, `docs/capacity.md, row "${operation}" (measured: ${JSON.stringify(usage)})`).toEqual(
        documented.get(operation),
      )
    }
  })

  it('audit flush: one batch after the response, one INSERT per event', async () => {
    // Logout-all records exactly one event.
    await createUser('cap-flush')
    const tokens = await login('cap-flush')
    const usage = await meter(async (fetch) => {
      const response = await fetch('/auth/logout-all', {
        method: 'POST',
        headers: bearer(tokens.access_token),
      })
      expect(response.status).toBe(204)
    })
    expect(usage.auditEvents).toBe(1)
    expect({
      d1Calls: 1,
      d1Statements: usage.auditEvents,
      d1RowsWritten: usage.auditRowsWritten,
      auditEvents: usage.auditEvents,
      kvReads: 0,
      kvWrites: 0,
      kvKeys: '– / –',
    }).toEqual(documented.get('audit flush'))
  })
})
