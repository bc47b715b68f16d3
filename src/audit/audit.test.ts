import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { bearer, createClient, createUser, PASSWORD } from '../../test/support/accounts'
import { adminFetch, adminJson, adminToken, auditRows, waitForAudit } from '../../test/support/admin'
import { createApiKey } from '../../test/support/api-keys'
import { createCodeClient, exchangeCode, issueCode } from '../../test/support/authorization-code'
import { gatewayFetch } from '../../test/support/gateway'
import { browserLogin, sameOrigin } from '../../test/support/sessions'
import { deleteExpiredRows } from '../cleanup'
import { sha256Hex } from '../crypto/bytes'
import type { AuditEvent } from './events'

// Every request of this file says who it comes from, so each event's ip and user agent can be checked.
const CLIENT = { 'cf-connecting-ip': '203.0.113.9', 'user-agent': 'audit-test/1.0' }
const secrets: string[] = [PASSWORD]

function remember(...values: (string | undefined)[]): void {
  for (const value of values) if (value) secrets.push(value)
}

async function form(path: string, params: Record<string, string>, headers: Record<string, string> = {}) {
  return gatewayFetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...CLIENT, ...headers },
    body: new URLSearchParams(params).toString(),
  })
}

async function passwordLogin(username: string, password = PASSWORD) {
  const response = await form('/auth/token', { grant_type: 'password', username, password })
  const body = (await response.json()) as { access_token: string; refresh_token: string }
  remember(body.access_token, body.refresh_token)
  return { response, body }
}

function has(type: AuditEvent['type'], fields: Partial<AuditEvent> = {}) {
  return (event: AuditEvent) =>
    event.type === type &&
    Object.entries(fields).every(
      ([key, value]) => JSON.stringify(event[key as keyof AuditEvent]) === JSON.stringify(value),
    )
}

describe('each action records its audit event with who, what and from where', () => {
  it('password logins: login_succeeded and token_issued with the grant type, from the request', async () => {
    const user = await createUser('au-login')
    const { response } = await passwordLogin('au-login')
    const requestId = response.headers.get('x-request-id')
    const event = await waitForAudit(has('login_succeeded', { subject_id: user.id }))
    expect(event).toMatchObject({
      outcome: 'success',
      actor_id: user.id,
      ip: '203.0.113.9',
      user_agent: 'audit-test/1.0',
      request_id: requestId,
      details: { via: 'password_grant', username: 'au-login' },
    })
    expect(event.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    const issued = await waitForAudit(has('token_issued', { subject_id: user.id }))
    expect(issued.details).toMatchObject({ grant_type: 'password', refresh: true })
    expect(issued.request_id).toBe(requestId)
  })

  it('a wrong password is login_failed (failure) without the submitted name or password; a burst is throttled', async () => {
    const user = await createUser('au-fail')
    await form('/auth/token', { grant_type: 'password', username: 'au-fail', password: 'wrong-password-1' })
    const failed = await waitForAudit(has('login_failed', { subject_id: user.id }))
    expect(failed).toMatchObject({
      outcome: 'failure',
      details: { reason: 'bad_password', via: 'password_grant' },
    })
    await form('/auth/token', { grant_type: 'password', username: 'no-such-person', password: 'x' })
    const unknown = await waitForAudit(
      (event) => event.type === 'login_failed' && event.details.reason === 'unknown_user',
    )
    expect(JSON.stringify(unknown)).not.toContain('no-such-person')
    for (let i = 0; i < 8; i++)
      await form('/auth/token', { grant_type: 'password', username: 'au-fail', password: 'wrong' })
    const throttled = await waitForAudit(has('throttled'))
    expect(throttled).toMatchObject({ outcome: 'failure', ip: '203.0.113.9' })
  })

  it('refresh rotation, reuse, revocation, logout and logout-all', async () => {
    const user = await createUser('au-tokens')
    const { body } = await passwordLogin('au-tokens')
    const rotated = await form('/auth/token', {
      grant_type: 'refresh_token',
      refresh_token: body.refresh_token,
    })
    remember(((await rotated.json()) as { access_token: string }).access_token)
    await waitForAudit(
      (e) =>
        e.type === 'token_issued' && e.details.grant_type === 'refresh_token' && e.subject_id === user.id,
    )
    // A replay after the 10 s grace window (tokens/refresh.ts) is a reuse: age the first use.
    await env.DB.prepare('UPDATE refresh_tokens SET used_at = used_at - 60 WHERE token_hash = ?1')
      .bind(await sha256Hex(body.refresh_token))
      .run()
    await form('/auth/token', { grant_type: 'refresh_token', refresh_token: body.refresh_token })
    await waitForAudit(has('refresh_reuse_detected', { subject_id: user.id, outcome: 'failure' }))
    const second = await passwordLogin('au-tokens')
    await form('/auth/revoke', { token: second.body.refresh_token }, bearer(second.body.access_token))
    const revoked = await waitForAudit(has('token_revoked', { subject_id: user.id }))
    expect(revoked.details).toMatchObject({ token_type: 'refresh_token', by: 'user' })
    const third = await passwordLogin('au-tokens')
    await gatewayFetch('/auth/logout', {
      method: 'POST',
      headers: { ...bearer(third.body.access_token), ...CLIENT },
    })
    await waitForAudit(has('logout', { subject_id: user.id }))
    const fourth = await passwordLogin('au-tokens')
    await gatewayFetch('/auth/logout-all', {
      method: 'POST',
      headers: { ...bearer(fourth.body.access_token), ...CLIENT },
    })
    await waitForAudit(has('logout_all', { subject_id: user.id, actor_id: user.id }))
  })

  it('client_credentials tokens name the client', async () => {
    await createClient('au-svc', { secret: 'au-client-secret-value' })
    remember('au-client-secret-value')
    const response = await form('/auth/token', {
      grant_type: 'client_credentials',
      client_id: 'au-svc',
      client_secret: 'au-client-secret-value',
    })
    remember(((await response.json()) as { access_token: string }).access_token)
    const event = await waitForAudit(has('token_issued', { client_id: 'au-svc' }))
    expect(event.details.grant_type).toBe('client_credentials')
  })

  it('authorization-code exchanges name the user and the app (the grant recorded no event before)', async () => {
    const user = await createUser('au-code')
    await createCodeClient('au-code-app')
    const issued = await issueCode('au-code-app', user.id, { scopes: ['openid', 'read'] })
    const response = await exchangeCode('au-code-app', issued)
    expect(response.status).toBe(200)
    remember(((await response.json()) as { access_token: string }).access_token, issued.code)
    const event = await waitForAudit(has('token_issued', { subject_id: user.id, client_id: 'au-code-app' }))
    expect(event.details).toMatchObject({ grant_type: 'authorization_code', scope: 'openid read' })
  })

  it('password change, API keys (created, used once a minute, revoked) and registration', async () => {
    const user = await createUser('au-keys')
    const { body } = await passwordLogin('au-keys')
    const key = await createApiKey(body.access_token, { name: 'audit key' })
    remember(key.key)
    const created = await waitForAudit(has('api_key_created', { subject_id: user.id }))
    expect(created.details).toMatchObject({ key_id: key.id, name: 'audit key' })
    for (let i = 0; i < 3; i++)
      await gatewayFetch('/api/things', { headers: { 'x-api-key': key.key, ...CLIENT } })
    await waitForAudit(has('api_key_used', { subject_id: user.id }))
    expect(
      (await auditRows()).filter((event) => event.type === 'api_key_used' && event.details.key_id === key.id),
    ).toHaveLength(1)
    await gatewayFetch(`/auth/api-keys/${key.id}`, {
      method: 'DELETE',
      headers: { ...bearer(body.access_token), ...CLIENT },
    })
    await waitForAudit(has('api_key_revoked', { subject_id: user.id }))
    const changed = await gatewayFetch('/auth/password', {
      method: 'POST',
      headers: { ...bearer(body.access_token), 'content-type': 'application/json', ...CLIENT },
      body: JSON.stringify({ current_password: PASSWORD, new_password: 'another long passphrase 42' }),
    })
    expect(changed.status).toBe(200)
    remember('another long passphrase 42', ((await changed.json()) as { access_token: string }).access_token)
    await waitForAudit(has('password_changed', { subject_id: user.id }))
    const registered = await form('/auth/register', {
      username: 'au-registered',
      password: 'registered passphrase 77',
    })
    remember('registered passphrase 77')
    const id = ((await registered.json()) as { id: string }).id
    await waitForAudit(has('user_created', { subject_id: id }))
  })

  it('browser sessions: session_created at login, session_ended at logout', async () => {
    const user = await createUser('au-browser')
    const session = await browserLogin('au-browser', { headers: CLIENT })
    remember(session.session, session.csrf)
    const created = await waitForAudit(has('session_created', { subject_id: user.id }))
    expect(created.details).toMatchObject({ persistent: false })
    await gatewayFetch('/auth/logout', { method: 'POST', headers: sameOrigin(session), redirect: 'manual' })
    await waitForAudit(has('session_ended', { subject_id: user.id }))
  })

  it('admin actions: users, roles, disable/enable, revoke, delete, clients; the admin is the actor', async () => {
    const admin = await adminToken('au-admin')
    remember(admin.token)
    const created = await adminJson<{ id: string }>(
      admin.token,
      'POST',
      '/admin/users',
      { username: 'au-managed', password: 'managed passphrase 55' },
      201,
    )
    remember('managed passphrase 55')
    const by = { actor_id: admin.id, subject_id: created.id }
    await waitForAudit(has('user_created', by))
    await adminJson(admin.token, 'PATCH', `/admin/users/${created.id}`, { roles: ['editor'] })
    const roles = await waitForAudit(has('roles_changed', by))
    expect(roles.details).toEqual({ from: ['user'], to: ['editor'] })
    await adminJson(admin.token, 'PATCH', `/admin/users/${created.id}`, { disabled: true })
    await waitForAudit(has('user_disabled', by))
    await adminJson(admin.token, 'PATCH', `/admin/users/${created.id}`, { disabled: false })
    await waitForAudit(has('user_enabled', by))
    await waitForAudit(has('user_updated', by))
    await adminJson(admin.token, 'POST', `/admin/users/${created.id}/revoke`)
    const revoke = await waitForAudit(has('admin_action', by))
    expect(revoke.details.action).toBe('revoke_user')
    await adminFetch(admin.token, 'DELETE', `/admin/users/${created.id}`)
    await waitForAudit(has('user_deleted', by))
    const client = await adminJson<{ client_secret: string }>(
      admin.token,
      'POST',
      '/admin/clients',
      { client_id: 'au-c' },
      201,
    )
    const rotated = await adminJson<{ client_secret: string }>(
      admin.token,
      'POST',
      '/admin/clients/au-c/secret',
    )
    remember(client.client_secret, rotated.client_secret)
    await adminFetch(admin.token, 'DELETE', '/admin/clients/au-c')
    for (const type of ['client_created', 'client_secret_rotated', 'client_deleted'] as const)
      await waitForAudit(has(type, { actor_id: admin.id, client_id: 'au-c' }))
  })
})

describe('no audit row holds a secret', () => {
  it('finds none of the passwords, tokens, keys, client secrets or their hashes used in this file', async () => {
    // Runs last in this file: every secret the tests above used is in `secrets`.
    const users = await env.DB.prepare('SELECT password_hash FROM users').all<{ password_hash: string }>()
    const stored = await env.DB.prepare(
      'SELECT key_hash AS h FROM api_keys UNION ALL SELECT token_hash FROM refresh_tokens UNION ALL SELECT token_hash FROM sessions',
    ).all<{ h: string }>()
    const hashes = [
      ...users.results.map((row) => row.password_hash),
      ...stored.results.map((row) => row.h),
      ...(await Promise.all(secrets.map((secret) => sha256Hex(secret)))),
    ]
    const rows = await env.DB.prepare('SELECT * FROM audit_events').all()
    expect(rows.results.length).toBeGreaterThan(30)
    const text = JSON.stringify(rows.results)
    for (const secret of [...secrets, ...hashes]) {
      expect(secret.length).toBeGreaterThan(8)
      expect(text.includes(secret), `an audit row contains a secret (${secret.slice(0, 6)}…)`).toBe(false)
    }
    // Refresh tokens are refused by shape too; the scan above covers each one the tests saw.
    expect(text).not.toMatch(/rt_[A-Za-z0-9_-]{20}|gwk_|gws_|eyJ/)
  })
})

describe('retention', () => {
  it('the hourly clean-up deletes events older than audit_retention_days and keeps newer ones', async () => {
    const now = Math.floor(Date.now() / 1000)
    const insert = (id: string, atMs: number) =>
      env.DB.prepare(
        "INSERT INTO audit_events (id, at_ms, type, outcome, details) VALUES (?1, ?2, 'admin_action', 'success', '{}')",
      ).bind(id, atMs)
    await env.DB.batch([
      insert('ret-old', (now - 31 * 86_400) * 1000),
      insert('ret-new', (now - 29 * 86_400) * 1000),
    ])
    const report = await deleteExpiredRows(env.DB, now, { auditRetentionDays: 30 })
    expect(report.auditEvents).toBeGreaterThanOrEqual(1)
    const left = await env.DB.prepare("SELECT id FROM audit_events WHERE id LIKE 'ret-%'").all<{
      id: string
    }>()
    expect(left.results.map((row) => row.id)).toEqual(['ret-new'])
    // Without a retention (the configuration could not be read) nothing is deleted.
    await env.DB.batch([insert('ret-kept', 1)])
    await deleteExpiredRows(env.DB, now)
    expect(await env.DB.prepare("SELECT id FROM audit_events WHERE id = 'ret-kept'").first()).not.toBeNull()
  })
})

describe('GET /admin/audit', () => {
  it('filters by type, actor and subject, pages newest first, and exports JSON Lines', async () => {
    const admin = await adminToken('au-query')
    const targets: { id: string }[] = []
    for (const n of [1, 2, 3]) targets.push(await createUser(`au-q-${n}`))
    for (const target of targets) await adminJson(admin.token, 'POST', `/admin/users/${target.id}/revoke`)
    await waitForAudit(has('admin_action', { subject_id: targets[2]?.id ?? '' }))
    const base = `/admin/audit?type=admin_action&actor_id=${admin.id}`
    const first = await adminJson<{ items: AuditEvent[]; next_cursor: string }>(
      admin.token,
      'GET',
      `${base}&limit=2`,
    )
    expect(first.items.map((event) => event.subject_id)).toEqual([targets[2]?.id, targets[1]?.id])
    const second = await adminJson<{ items: AuditEvent[]; next_cursor: null }>(
      admin.token,
      'GET',
      `${base}&limit=2&cursor=${first.next_cursor}`,
    )
    expect(second.items.map((event) => event.subject_id)).toEqual([targets[0]?.id])
    expect(second.next_cursor).toBeNull()
    const one = await adminJson<{ items: AuditEvent[] }>(
      admin.token,
      'GET',
      `/admin/audit?subject_id=${targets[0]?.id}`,
    )
    expect(one.items.every((event) => event.subject_id === targets[0]?.id)).toBe(true)
    const future = await adminJson<{ items: AuditEvent[] }>(
      admin.token,
      'GET',
      `${base}&since=${new Date(Date.now() + 60_000).toISOString()}`,
    )
    expect(future.items).toEqual([])
    const old = await adminJson<{ items: AuditEvent[] }>(admin.token, 'GET', `${base}&until=1000`)
    expect(old.items).toEqual([])
    const jsonl = await adminFetch(admin.token, 'GET', `${base}&format=jsonl&limit=2`)
    expect(jsonl.headers.get('content-type')).toContain('application/jsonl')
    expect(jsonl.headers.get('x-next-cursor')).toBe(first.next_cursor)
    const lines = (await jsonl.text())
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as AuditEvent)
    expect(lines.map((event) => event.id)).toEqual(first.items.map((event) => event.id))
    const after = await adminJson<{ items: AuditEvent[] }>(
      admin.token,
      'GET',
      `${base}&after=${first.items[1]?.id}`,
    )
    expect(after.items.map((event) => event.id)).toEqual([first.items[0]?.id])
  })
})
