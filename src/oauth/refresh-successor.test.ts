import { env } from 'cloudflare:test'
import { exportJWK, generateKeyPair, type JWK } from 'jose'
import { describe, expect, it } from 'vitest'
import { createUser, PASSWORD, type Tokens } from '../../test/support/accounts'
import { fetchWithEnv } from '../../test/support/gateway'
import { deleteExpiredRows } from '../cleanup'
import { sha256Hex, toBase64Url } from '../crypto/bytes'
import { REFRESH_REUSE_GRACE_SECONDS } from '../tokens/refresh'
import type { RefreshTokenRow } from '../tokens/refresh-store'

// Refresh successors are random and stored sealed under their parent (src/tokens/successor-seal.ts):
// no signing key takes part, so rotating SIGNING_KEYS is not reuse and a leaked key derives nothing.

const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

function testKeys(): JWK[] {
  return (JSON.parse(String(env.SIGNING_KEYS)) as { keys: JWK[] }).keys
}

async function rotatedKeySet(): Promise<string> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true })
  const fresh = {
    ...(await exportJWK(privateKey)),
    kid: `rs-${crypto.randomUUID()}`,
    alg: 'ES256',
    use: 'sig',
  }
  return JSON.stringify({ keys: [fresh, ...testKeys()] })
}

/** A token request to a gateway whose SIGNING_KEYS secret is `signingKeys`. */
function tokenWithKeys(signingKeys: string, params: Record<string, string>): Promise<Response> {
  return fetchWithEnv({ SIGNING_KEYS: signingKeys }, '/auth/token', {
    method: 'POST',
    headers: FORM,
    body: new URLSearchParams(params).toString(),
  })
}

async function ok(response: Promise<Response>): Promise<Tokens & { refresh_token: string }> {
  const settled = await response
  const body = (await settled.json()) as Tokens
  expect({ status: settled.status, body }).toMatchObject({ status: 200 })
  if (!body.refresh_token) throw new Error('no refresh token')
  return { ...body, refresh_token: body.refresh_token }
}

function signIn(signingKeys: string, username: string) {
  return ok(tokenWithKeys(signingKeys, { grant_type: 'password', username, password: PASSWORD }))
}

function refresh(signingKeys: string, refreshToken: string): Promise<Response> {
  return tokenWithKeys(signingKeys, { grant_type: 'refresh_token', refresh_token: refreshToken })
}

async function rowOf(token: string): Promise<RefreshTokenRow | null> {
  return env.DB.prepare('SELECT * FROM refresh_tokens WHERE token_hash = ?1')
    .bind(await sha256Hex(token))
    .first<RefreshTokenRow>()
}

/** The sealed successor stored for a rotated parent, or null. */
async function sealOf(token: string): Promise<string | null> {
  const row = await env.DB.prepare('SELECT sealed FROM refresh_token_successors WHERE parent_hash = ?1')
    .bind(await sha256Hex(token))
    .first<{ sealed: string }>()
  return row?.sealed ?? null
}

async function familyRows(familyId: string): Promise<RefreshTokenRow[]> {
  return (
    await env.DB.prepare('SELECT * FROM refresh_tokens WHERE family_id = ?1')
      .bind(familyId)
      .all<RefreshTokenRow>()
  ).results
}

/** Moves a rotation `seconds` into the past, as if the grace window had gone by. */
async function ageRotation(token: string, seconds: number): Promise<void> {
  const hash = await sha256Hex(token)
  await env.DB.batch([
    env.DB.prepare('UPDATE refresh_tokens SET used_at = used_at - ?2 WHERE token_hash = ?1').bind(
      hash,
      seconds,
    ),
    env.DB.prepare(
      'UPDATE refresh_token_successors SET rotated_at = rotated_at - ?2 WHERE parent_hash = ?1',
    ).bind(hash, seconds),
  ])
}

const FULL = JSON.stringify({ keys: testKeys() })

describe('refresh successors and the signing keys', () => {
  it('a retry inside the grace window after SIGNING_KEYS was rotated gets the same successor, not reuse detection', async () => {
    await createUser('rs-rotate')
    const rt0 = (await signIn(FULL, 'rs-rotate')).refresh_token
    const rt1 = (await ok(refresh(FULL, rt0))).refresh_token
    // A new deployment of the secret (new active key) lands, and the client retries its refresh.
    const rotated = await rotatedKeySet()
    const retried = await ok(refresh(rotated, rt0))
    expect(retried.refresh_token).toBe(rt1)
    const family = await familyRows((await rowOf(rt0))?.family_id ?? '')
    expect(family).toHaveLength(2)
    expect(family.every((row) => row.revoked_at === null)).toBe(true)
    // Also when the old signer is removed outright (a compromised key).
    const withoutFirst = JSON.stringify({ keys: testKeys().filter((key) => key.kid !== 'test-key-1') })
    expect((await ok(refresh(withoutFirst, rt0))).refresh_token).toBe(rt1)
    expect((await ok(refresh(rotated, rt1))).refresh_token).not.toBe(rt1)
  })

  it('a leaked signing key plus an old refresh token does not yield the successor (the HMAC derivation is gone)', async () => {
    await createUser('rs-leak')
    const rt0 = (await signIn(FULL, 'rs-leak')).refresh_token
    const rt1 = (await ok(refresh(FULL, rt0))).refresh_token
    // What the old design computed from the first signing key's private scalar and the parent.
    const d = String(testKeys()[0]?.d)
    const secret = new TextEncoder().encode(await sha256Hex(`refresh-successor\0${d}`))
    const key = await crypto.subtle.importKey('raw', secret, { name: 'HMAC', hash: 'SHA-256' }, false, [
      'sign',
    ])
    const mac = await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(rt0))
    expect(rt1).not.toBe(`rt_${toBase64Url(new Uint8Array(mac))}`)
  })
})

describe('the sealed successor in D1', () => {
  it('holds no plaintext token: no column of the family rows or of its seal contains either token', async () => {
    await createUser('rs-plain')
    const rt0 = (await signIn(FULL, 'rs-plain')).refresh_token
    const rt1 = (await ok(refresh(FULL, rt0))).refresh_token
    expect(await sealOf(rt0)).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/)
    const seals = await env.DB.prepare('SELECT * FROM refresh_token_successors').all()
    const family = await familyRows((await rowOf(rt0))?.family_id ?? '')
    const everything = JSON.stringify([family, seals.results])
    for (const token of [rt0, rt1]) {
      expect(everything).not.toContain(token)
      expect(everything).not.toContain(token.slice(3))
    }
  })

  it('is deleted once the successor is used: a retry of the grandparent is then reuse and ends the session', async () => {
    await createUser('rs-used')
    const rt0 = (await signIn(FULL, 'rs-used')).refresh_token
    const rt1 = (await ok(refresh(FULL, rt0))).refresh_token
    await ok(refresh(FULL, rt1))
    expect(await sealOf(rt0)).toBeNull()
    expect(await sealOf(rt1)).not.toBeNull()
    const reuse = await refresh(FULL, rt0)
    expect(reuse.status).toBe(400)
    expect(await reuse.json()).toMatchObject({ error: 'invalid_grant' })
  })

  it('is deleted at the next rotation anywhere once the grace window is over, and the old token is then reuse', async () => {
    await createUser('rs-window')
    await createUser('rs-window-other')
    const rt0 = (await signIn(FULL, 'rs-window')).refresh_token
    await ok(refresh(FULL, rt0))
    await ageRotation(rt0, REFRESH_REUSE_GRACE_SECONDS + 1)
    expect(await sealOf(rt0)).not.toBeNull()
    // Another user's rotation sweeps every seal whose window is over.
    await ok(refresh(FULL, (await signIn(FULL, 'rs-window-other')).refresh_token))
    expect(await sealOf(rt0)).toBeNull()
    const reuse = await refresh(FULL, rt0)
    expect(reuse.status).toBe(400)
    // rt0 and its successor: the whole family is revoked (an empty family must fail here).
    const family = await familyRows((await rowOf(rt0))?.family_id ?? '')
    expect(family).toHaveLength(2)
    for (const row of family) expect(row.revoked_at).not.toBeNull()
  })

  it('is deleted by the hourly clean-up once the grace window is over, and kept while it lasts', async () => {
    await createUser('rs-cleanup')
    const rt0 = (await signIn(FULL, 'rs-cleanup')).refresh_token
    await ok(refresh(FULL, rt0))
    await deleteExpiredRows(env.DB)
    expect(await sealOf(rt0)).not.toBeNull()
    await ageRotation(rt0, REFRESH_REUSE_GRACE_SECONDS + 1)
    const later = await deleteExpiredRows(env.DB)
    expect(later.sealedSuccessors).toBeGreaterThanOrEqual(1)
    expect(await sealOf(rt0)).toBeNull()
  })

  it('is deleted when the session is revoked (logout-all)', async () => {
    await createUser('rs-revoked')
    const first = await signIn(FULL, 'rs-revoked')
    await ok(refresh(FULL, first.refresh_token))
    const logout = await fetchWithEnv({}, '/auth/logout-all', {
      method: 'POST',
      headers: { authorization: `Bearer ${first.access_token}` },
    })
    expect(logout.status).toBe(204)
    expect(await sealOf(first.refresh_token)).toBeNull()
  })
})
