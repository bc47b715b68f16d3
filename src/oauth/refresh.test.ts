import { env } from 'cloudflare:test'
import { decodeJwt } from 'jose'
import { describe, expect, it } from 'vitest'
import {
  bearer,
  createClient,
  createUser,
  login,
  type Tokens,
  tokenRequest,
} from '../../test/support/accounts'
import { gatewayFetch, testId, upstreamReceived } from '../../test/support/gateway'
import { sha256Hex } from '../crypto/bytes'
import type { RefreshTokenRow } from '../tokens/refresh-store'

function refresh(refreshToken: string, extra: Record<string, string> = {}): Promise<Response> {
  return tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken, ...extra })
}

async function refreshOk(refreshToken: string, extra: Record<string, string> = {}): Promise<Tokens> {
  const response = await refresh(refreshToken, extra)
  expect(response.status).toBe(200)
  return (await response.json()) as Tokens
}

async function expectInvalidGrant(response: Response): Promise<void> {
  expect(response.status).toBe(400)
  expect(response.headers.get('cache-control')).toBe('no-store')
  const body = (await response.json()) as { error: string }
  expect(body.error).toBe('invalid_grant')
}

function refreshTokenOf(tokens: Tokens): string {
  if (!tokens.refresh_token) throw new Error('no refresh token issued')
  return tokens.refresh_token
}

async function rowOf(token: string): Promise<RefreshTokenRow | null> {
  return env.DB.prepare('SELECT * FROM refresh_tokens WHERE token_hash = ?1')
    .bind(await sha256Hex(token))
    .first<RefreshTokenRow>()
}

async function familyRows(familyId: string): Promise<RefreshTokenRow[]> {
  const result = await env.DB.prepare('SELECT * FROM refresh_tokens WHERE family_id = ?1')
    .bind(familyId)
    .all<RefreshTokenRow>()
  return result.results
}

/** GET /api/things with the access token; returns the status and what the upstream received. */
async function proxied(accessToken: string): Promise<{ status: number; forwarded: number }> {
  const id = testId()
  const response = await gatewayFetch('/api/things', { headers: { ...bearer(accessToken), 'x-test-id': id } })
  await response.arrayBuffer()
  return { status: response.status, forwarded: (await upstreamReceived(id)).length }
}

describe('refresh-token rotation', () => {
  it('issues a different refresh token each time, and the old one fails once the chain has moved on', async () => {
    await createUser('rf-rotate')
    const first = await login('rf-rotate')
    const rt0 = refreshTokenOf(first)
    const second = await refreshOk(rt0)
    const rt1 = refreshTokenOf(second)
    expect(rt1).not.toBe(rt0)
    expect(rt1).toMatch(/^rt_[A-Za-z0-9_-]{43}$/)
    expect(second.access_token).not.toBe(first.access_token)
    const third = await refreshOk(rt1)
    const rt2 = refreshTokenOf(third)
    expect(rt2).not.toBe(rt1)
    expect(rt2).not.toBe(rt0)

    const parent = await rowOf(rt0)
    expect(parent?.used_at).not.toBeNull()
    expect(parent?.successor_hash).toBe(await sha256Hex(rt1))
    await expectInvalidGrant(await refresh(rt0))
  })

  it('returns the same successor to a retry within the grace window, and that successor works', async () => {
    await createUser('rf-grace')
    const rt0 = refreshTokenOf(await login('rf-grace'))
    const rt1 = refreshTokenOf(await refreshOk(rt0))
    const retried = await refreshOk(rt0)
    expect(retried.refresh_token).toBe(rt1)
    const family = await familyRows((await rowOf(rt0))?.family_id ?? '')
    expect(family).toHaveLength(2)
    expect(family.every((row) => row.revoked_at === null)).toBe(true)
    expect(refreshTokenOf(await refreshOk(rt1))).not.toBe(rt1)
  })
})

describe('refresh-token reuse detection', () => {
  it('answers a reuse after the 10 s grace window with invalid_grant and ends the whole session', async () => {
    await createUser('rf-reuse')
    const first = await login('rf-reuse')
    const rt0 = refreshTokenOf(first)
    const second = await refreshOk(rt0)
    const rt1 = refreshTokenOf(second)
    expect(await proxied(first.access_token)).toEqual({ status: 200, forwarded: 1 })
    expect(await proxied(second.access_token)).toEqual({ status: 200, forwarded: 1 })

    // A thief replays the stolen rt0 a minute after the client rotated it.
    await env.DB.prepare('UPDATE refresh_tokens SET used_at = used_at - 60 WHERE token_hash = ?1')
      .bind(await sha256Hex(rt0))
      .run()
    await expectInvalidGrant(await refresh(rt0))

    const familyId = (await rowOf(rt0))?.family_id ?? ''
    const family = await familyRows(familyId)
    expect(family).toHaveLength(2)
    for (const row of family) expect(row.revoked_at).not.toBeNull()
    await expectInvalidGrant(await refresh(rt1))
    expect(await proxied(first.access_token)).toEqual({ status: 401, forwarded: 0 })
    expect(await proxied(second.access_token)).toEqual({ status: 401, forwarded: 0 })
  })

  it('ends the session when a rotated token is replayed after its successor was used, even within 10 s', async () => {
    await createUser('rf-reuse-chain')
    const rt0 = refreshTokenOf(await login('rf-reuse-chain'))
    const rt1 = refreshTokenOf(await refreshOk(rt0))
    const third = await refreshOk(rt1)
    await expectInvalidGrant(await refresh(rt0))
    await expectInvalidGrant(await refresh(refreshTokenOf(third)))
    expect(await proxied(third.access_token)).toEqual({ status: 401, forwarded: 0 })
  })
})

describe('concurrent refreshes', () => {
  it('gives all 50 racing refreshes of one token the same successor and stores exactly one', async () => {
    await createUser('rf-race')
    const rt0 = refreshTokenOf(await login('rf-race'))
    const responses = await Promise.all(Array.from({ length: 50 }, () => refresh(rt0)))
    const bodies = await Promise.all(
      responses.map(async (response) => ({
        status: response.status,
        body: (await response.json()) as Tokens,
      })),
    )
    const succeeded = bodies.filter((entry) => entry.status === 200)
    expect(succeeded.length).toBeGreaterThan(0)
    // Every loser of the race is inside the grace window, so none of them may trip reuse detection.
    expect(bodies.map((entry) => entry.status)).toEqual(Array(50).fill(200))
    const successors = new Set(succeeded.map((entry) => entry.body.refresh_token))
    expect(successors.size).toBe(1)
    const [rt1] = [...successors]
    if (!rt1) throw new Error('no successor')
    expect(rt1).not.toBe(rt0)

    const family = await familyRows((await rowOf(rt0))?.family_id ?? '')
    expect(family).toHaveLength(2)
    const unused = family.filter((row) => row.used_at === null)
    expect(unused).toHaveLength(1)
    expect(unused[0]?.token_hash).toBe(await sha256Hex(rt1))
    expect(unused[0]?.revoked_at).toBeNull()

    const after = await refreshOk(rt1)
    expect(after.refresh_token).not.toBe(rt1)
  })
})

describe('refresh-token binding and scope', () => {
  it('refuses a refresh token issued to client A when presented by client B or without a client, and keeps it usable for A', async () => {
    await createUser('rf-client')
    await createClient('rf-app-a', { grantTypes: ['password', 'refresh_token'], scopes: ['read'] })
    await createClient('rf-app-b', { grantTypes: ['password', 'refresh_token'], scopes: ['read'] })
    const rt0 = refreshTokenOf(await login('rf-client', undefined, { client_id: 'rf-app-a' }))
    await expectInvalidGrant(await refresh(rt0, { client_id: 'rf-app-b' }))
    await expectInvalidGrant(await refresh(rt0))
    const row = await rowOf(rt0)
    expect(row?.used_at).toBeNull()
    expect(row?.revoked_at).toBeNull()
    const refreshed = await refreshOk(rt0, { client_id: 'rf-app-a' })
    expect(decodeJwt(refreshed.access_token).client_id).toBe('rf-app-a')
  })

  it('refuses a refresh that widens the scope as invalid_scope and leaves the token usable', async () => {
    await createUser('rf-widen', ['editor'])
    const rt0 = refreshTokenOf(await login('rf-widen', undefined, { scope: 'read' }))
    const response = await refresh(rt0, { scope: 'read write' })
    expect(response.status).toBe(400)
    expect(((await response.json()) as { error: string }).error).toBe('invalid_scope')
    expect((await rowOf(rt0))?.used_at).toBeNull()
    expect((await refreshOk(rt0)).scope).toBe('read')
  })

  it('allows a refresh that narrows the scope', async () => {
    await createUser('rf-narrow', ['editor'])
    const first = await login('rf-narrow')
    expect(first.scope).toBe('read write')
    const narrowed = await refreshOk(refreshTokenOf(first), { scope: 'read' })
    expect(narrowed.scope).toBe('read')
    expect(decodeJwt(narrowed.access_token).scope).toBe('read')
  })
})

describe('unusable refresh tokens', () => {
  it('refuses an expired refresh token as invalid_grant without rotating or revoking it', async () => {
    await createUser('rf-expired')
    const rt0 = refreshTokenOf(await login('rf-expired'))
    await env.DB.prepare('UPDATE refresh_tokens SET expires_at = ?2 WHERE token_hash = ?1')
      .bind(await sha256Hex(rt0), Math.floor(Date.now() / 1000) - 1)
      .run()
    await expectInvalidGrant(await refresh(rt0))
    // Refused at lookup: an expired token is not a reuse, so it neither rotates nor ends the session.
    const row = await rowOf(rt0)
    expect(row?.used_at).toBeNull()
    expect(row?.revoked_at).toBeNull()
  })

  for (const [kind, token] of [
    ['a short rt_ string', 'rt_short'],
    ['a JWT-looking string', 'eyJhbGciOiJIUzI1NiJ9.e30.c2ln'],
    ['an unknown token of the right shape', `rt_${'A'.repeat(43)}`],
    ['a token with SQL text', "rt_' OR 1=1 --"],
  ] as const) {
    it(`refuses ${kind} as invalid_grant`, async () => {
      await expectInvalidGrant(await refresh(token))
    })
  }

  it('refuses the refresh token of a user who has since been disabled', async () => {
    const user = await createUser('rf-disabled')
    const rt0 = refreshTokenOf(await login('rf-disabled'))
    await env.DB.prepare('UPDATE users SET disabled = 1 WHERE id = ?1').bind(user.id).run()
    await expectInvalidGrant(await refresh(rt0))
  })
})

describe('refresh-token storage', () => {
  it('stores refresh tokens only as SHA-256 hex, never the plaintext', async () => {
    const user = await createUser('rf-hashed')
    const rt0 = refreshTokenOf(await login('rf-hashed'))
    const rt1 = refreshTokenOf(await refreshOk(rt0))
    const rows = (
      await env.DB.prepare('SELECT * FROM refresh_tokens WHERE user_id = ?1')
        .bind(user.id)
        .all<RefreshTokenRow>()
    ).results
    expect(rows).toHaveLength(2)
    for (const row of rows) expect(row.token_hash).toMatch(/^[0-9a-f]{64}$/)
    expect(rows.map((row) => row.token_hash).sort()).toEqual(
      [await sha256Hex(rt0), await sha256Hex(rt1)].sort(),
    )
    const everything = JSON.stringify((await env.DB.prepare('SELECT * FROM refresh_tokens').all()).results)
    for (const plaintext of [rt0, rt1]) {
      expect(everything).not.toContain(plaintext)
      expect(everything).not.toContain(plaintext.slice(3))
    }
  })
})
