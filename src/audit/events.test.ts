import { describe, expect, it } from 'vitest'
import { safeDetails } from './events'
import { buildAuditEvent } from './record'

describe('audit events never carry a secret, whatever a caller passes', () => {
  it('drops details under credential-like names', () => {
    const details = safeDetails({
      password: 'hunter2',
      new_password: 'x',
      client_secret: 'y',
      access_token: 'z',
      refresh_token: 'w',
      token: 't',
      key: 'k',
      api_key: 'a',
      password_hash: 'h',
      cookie: 'c',
      authorization: 'Bearer q',
      name: 'ci runner',
      grant_type: 'password',
      token_type: 'refresh_token',
    })
    expect(details).toEqual({ name: 'ci runner', grant_type: 'password', token_type: 'refresh_token' })
  })

  it('drops values shaped like our keys, secrets, refresh tokens, JWTs, digests and password hashes', () => {
    const details = safeDetails({
      a: 'gwk_0123456789abcdef_secretsecret',
      b: 'gws_abcdefghijklmnop',
      c: 'rt_abcdefghijklmnopqrstuvwxyz',
      d: 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.sig',
      e: 'a'.repeat(64),
      f: '$2b$12$abcdefghijklmnopqrstuv',
      g: 'pbkdf2-sha256$100000$salt$hash',
      list: ['ok', 'gwk_0123456789abcdef_x'],
      fine: 'key 0123456789abcdef',
    })
    expect(details).toEqual({ list: ['ok'], fine: 'key 0123456789abcdef' })
  })

  it('strips control characters (forged log lines) and bounds lengths', () => {
    const event = buildAuditEvent(
      { type: 'login_failed', details: { note: 'a\nb\u0000c' } },
      { userAgent: `evil\r\n{"level":"info"} ${'x'.repeat(400)}`, ip: '192.0.2.1', requestId: 'r' },
    )
    expect(event.details.note).toBe('abc')
    expect(event.user_agent).not.toMatch(/[\r\n]/)
    expect(event.user_agent?.length).toBeLessThanOrEqual(256)
  })

  it('redacts a request field that carries a credential (a token pasted into User-Agent)', () => {
    const event = buildAuditEvent(
      { type: 'logout', actorId: 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.sig' },
      { userAgent: 'curl gwk_0123456789abcdef_secret' },
    )
    expect(event.user_agent).toBe('[redacted]')
    expect(event.actor_id).toBe('[redacted]')
    expect(event.outcome).toBe('success')
  })
})
