import { createScheduledController, env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { CLEANUP_GRACE_SECONDS, deleteExpiredRows } from './cleanup'
import { nowSeconds } from './db/json'
import worker from './index'

async function count(table: string, where: string): Promise<number> {
  const row = await env.DB.prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE ${where}`).first<{ n: number }>()
  return row?.n ?? 0
}

async function seed(tag: string, expiresAt: number): Promise<void> {
  await env.DB.batch([
    env.DB.prepare(
      'INSERT INTO revoked_tokens (jti_hash, subject, expires_at, revoked_at) VALUES (?1, ?2, ?3, ?3)',
    ).bind(`${tag}-jti`, tag, expiresAt),
    env.DB.prepare(
      'INSERT INTO session_access_tokens (jti, family_id, user_id, expires_at) VALUES (?1, ?2, ?2, ?3)',
    ).bind(`${tag}-at`, tag, expiresAt),
    env.DB.prepare(
      'INSERT INTO refresh_tokens (token_hash, family_id, user_id, scope, issued_at, expires_at) VALUES (?1, ?2, ?2, ?4, ?3, ?3)',
    ).bind(`${tag}-rt`, tag, expiresAt, ''),
  ])
}

describe('the hourly clean-up', () => {
  it('deletes rows of tokens long expired and keeps live ones and ones inside the grace period', async () => {
    const now = nowSeconds()
    await seed('old', now - CLEANUP_GRACE_SECONDS - 10)
    await seed('recent', now - 10)
    await seed('live', now + 900)
    const report = await deleteExpiredRows(env.DB, now)
    expect(report).toMatchObject({ revokedTokens: 1, sessionAccessTokens: 1, refreshTokens: 1 })
    expect(await count('revoked_tokens', "subject = 'old'")).toBe(0)
    expect(await count('refresh_tokens', "family_id = 'old'")).toBe(0)
    for (const tag of ['recent', 'live']) {
      expect(await count('revoked_tokens', `subject = '${tag}'`)).toBe(1)
      expect(await count('session_access_tokens', `family_id = '${tag}'`)).toBe(1)
      expect(await count('refresh_tokens', `family_id = '${tag}'`)).toBe(1)
    }
  })

  it('keeps a throttling row while its account is locked, deletes it once the lock and window are over', async () => {
    const now = nowSeconds()
    await env.DB.batch([
      env.DB.prepare(
        'INSERT INTO auth_failures (subject, window_start, failures_in_window, consecutive_failures, locked_until) VALUES (?1, ?2, 9, 9, ?3)',
      ).bind('account:locked', now - 90_000, now + 600),
      env.DB.prepare(
        'INSERT INTO auth_failures (subject, window_start, failures_in_window, consecutive_failures, locked_until) VALUES (?1, ?2, 9, 9, ?3)',
      ).bind('account:stale', now - 90_000, now - 10),
    ])
    await deleteExpiredRows(env.DB, now)
    expect(await count('auth_failures', "subject = 'account:locked'")).toBe(1)
    expect(await count('auth_failures', "subject = 'account:stale'")).toBe(0)
  })

  it('deletes authorization codes a day past expiry and keeps recent ones (a late replay still finds them)', async () => {
    const now = nowSeconds()
    const insert = (hash: string, expiresAt: number) =>
      env.DB.prepare(
        `INSERT INTO authorization_codes (code_hash, client_id, user_id, redirect_uri, code_challenge, auth_time, issued_at, expires_at)
         VALUES (?1, 'c', 'u', 'https://app.test/cb', 'x', ?2, ?2, ?3)`,
      ).bind(hash, expiresAt - 60, expiresAt)
    await env.DB.batch([insert('code-old', now - 90_000), insert('code-recent', now - 120)])
    const report = await deleteExpiredRows(env.DB, now)
    expect(report.authorizationCodes).toBe(1)
    expect(await count('authorization_codes', "code_hash = 'code-old'")).toBe(0)
    expect(await count('authorization_codes', "code_hash = 'code-recent'")).toBe(1)
  })

  it('deletes emailed links and codes once expired or used, keeps live ones, and the email throttle rows after a day', async () => {
    const now = nowSeconds()
    const token = (user: string, expiresAt: number, usedAt: number | null) =>
      env.DB.prepare(
        `INSERT INTO email_tokens (user_id, purpose, token_hash, email, created_at, expires_at, used_at, attempts)
         VALUES (?1, 'password_reset', ?1, 'x@example.com', ?2, ?3, ?4, 0)`,
      ).bind(user, expiresAt - 1_800, expiresAt, usedAt)
    const throttle = (subject: string, windowStart: number) =>
      env.DB.prepare(
        'INSERT INTO auth_failures (subject, window_start, failures_in_window, consecutive_failures, locked_until) VALUES (?1, ?2, 5, 0, 0)',
      ).bind(subject, windowStart)
    await env.DB.batch([
      token('et-expired', now - 1, null),
      token('et-used', now + 900, now - 60),
      token('et-live', now + 900, null),
      throttle('email:et-old@example.com', now - 90_000),
      throttle('email:et-new@example.com', now - 600),
    ])
    const report = await deleteExpiredRows(env.DB, now)
    expect(report.emailTokens).toBe(2)
    expect(await count('email_tokens', "user_id LIKE 'et-%'")).toBe(1)
    expect(await count('email_tokens', "user_id = 'et-live'")).toBe(1)
    expect(await count('auth_failures', "subject = 'email:et-old@example.com'")).toBe(0)
    expect(await count('auth_failures', "subject = 'email:et-new@example.com'")).toBe(1)
  })

  it('runs from the Worker scheduled handler (the cron trigger)', async () => {
    const now = nowSeconds()
    await seed('cron-old', now - CLEANUP_GRACE_SECONDS - 10)
    await worker.scheduled(createScheduledController(), env)
    expect(await count('revoked_tokens', "subject = 'cron-old'")).toBe(0)
  })
})
