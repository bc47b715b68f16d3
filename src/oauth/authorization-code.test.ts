import { env } from 'cloudflare:test'
import { decodeJwt } from 'jose'
import { describe, expect, it } from 'vitest'
import { basicAuth, callApi, createUser, tokenRequest } from '../../test/support/accounts'
import {
  CLIENT_SECRET,
  type CodeTokens,
  createCodeClient,
  exchangeCode,
  issueCode,
  pkcePair,
  REDIRECT,
} from '../../test/support/authorization-code'
import { sha256Hex } from '../crypto/bytes'
import { nowSeconds } from '../db/json'
import { AUTHORIZATION_CODE_TTL_SECONDS, issueAuthorizationCode } from './authorization-code'
import type { AuthorizationCodeRow } from './code-store'
import { recordGrant } from './consent'

// The token-endpoint half of the authorization code flow. Codes come from the real
// issueAuthorizationCode (what /auth/authorize calls after login and consent) on the real D1.

async function expectError(response: Response, status: number, error: string): Promise<string> {
  const text = await response.text()
  expect(response.status, text).toBe(status)
  expect(response.headers.get('cache-control')).toBe('no-store')
  expect(JSON.parse(text).error).toBe(error)
  return text
}

async function tokensOf(response: Response): Promise<CodeTokens> {
  const text = await response.text()
  expect(response.status, text).toBe(200)
  return JSON.parse(text) as CodeTokens
}

async function codeRow(code: string): Promise<AuthorizationCodeRow | null> {
  return env.DB.prepare('SELECT * FROM authorization_codes WHERE code_hash = ?1')
    .bind(await sha256Hex(code))
    .first<AuthorizationCodeRow>()
}

function refresh(clientId: string, refreshToken: string): Promise<Response> {
  return tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId })
}

describe('issuing a code', () => {
  it('makes 256-bit codes, stores only their SHA-256, bound to the request, for 60 s', async () => {
    const user = await createUser('ac-issue')
    await createCodeClient('ac-issue-app')
    const issued = await issueCode('ac-issue-app', user.id, { nonce: 'n-0S6_WzA2Mj' })
    expect(issued.code).toMatch(/^ac_[A-Za-z0-9_-]{43}$/)
    const row = await codeRow(issued.code)
    expect(row).toMatchObject({
      client_id: 'ac-issue-app',
      user_id: user.id,
      redirect_uri: REDIRECT,
      scope: 'openid read',
      nonce: 'n-0S6_WzA2Mj',
      auth_time: issued.authTime,
      used_at: null,
    })
    expect((row?.expires_at ?? 0) - (row?.issued_at ?? 0)).toBe(AUTHORIZATION_CODE_TTL_SECONDS)
    expect(AUTHORIZATION_CODE_TTL_SECONDS).toBeLessThanOrEqual(60)
    expect(JSON.stringify(row)).not.toContain(issued.code.slice(3))
  })

  it.each([
    ['the plain method (PKCE downgrade)', 'plain'],
    ['no method', ''],
  ])('refuses %s', async (_, method) => {
    const { challenge } = await pkcePair()
    await expect(
      issueAuthorizationCode(env.DB, {
        clientId: 'x',
        userId: 'y',
        redirectUri: REDIRECT,
        codeChallenge: challenge,
        codeChallengeMethod: method,
        scopes: [],
        authTime: nowSeconds(),
      }),
    ).rejects.toMatchObject({ code: 'invalid_request' })
  })

  it('refuses a challenge that is not an S256 value (a verifier sent as the challenge)', async () => {
    const { verifier } = await pkcePair()
    await expect(
      issueAuthorizationCode(env.DB, {
        clientId: 'x',
        userId: 'y',
        redirectUri: REDIRECT,
        codeChallenge: verifier,
        codeChallengeMethod: 'S256',
        scopes: [],
        authTime: nowSeconds(),
      }),
    ).rejects.toMatchObject({ code: 'invalid_request' })
  })
})

describe('exchanging a code', () => {
  // Issue 19 changed this test with the contract: the app's token used to carry all of the user's
  // roles (['editor']); a delegated token carries only roles the client may act with (none here).
  it('gives a public client an at+jwt for the gateway audience, a refresh token and an ID token', async () => {
    const user = await createUser('ac-public', ['editor'])
    await createCodeClient('ac-public-app')
    const issued = await issueCode('ac-public-app', user.id, { scopes: ['openid', 'read', 'write'] })
    const response = await exchangeCode('ac-public-app', issued)
    const tokens = await tokensOf(response)
    expect(response.headers.get('cache-control')).toBe('no-store')
    expect(tokens).toMatchObject({ token_type: 'Bearer', expires_in: 900, scope: 'openid read write' })
    expect(tokens.refresh_token).toMatch(/^rt_[A-Za-z0-9_-]{43}$/)
    expect(typeof tokens.id_token).toBe('string')
    expect(decodeJwt(tokens.access_token)).toMatchObject({
      iss: 'http://gateway.test',
      aud: 'edge-auth-gateway',
      sub: user.id,
      client_id: 'ac-public-app',
      auth_time: issued.authTime,
      scope: 'openid read write',
      roles: [],
    })
    expect(decodeJwt(tokens.access_token).first_party).toBeUndefined()
    expect(await callApi(tokens.access_token)).toEqual({ status: 200, forwarded: 1 })
  })

  it('authenticates a confidential client by Basic and by form (client_secret_post)', async () => {
    const user = await createUser('ac-confidential')
    await createCodeClient('ac-conf-app', { secret: CLIENT_SECRET })
    const basic = await exchangeCode('ac-conf-app', await issueCode('ac-conf-app', user.id), {
      secret: CLIENT_SECRET,
    })
    expect(decodeJwt((await tokensOf(basic)).access_token).client_id).toBe('ac-conf-app')
    const post = await exchangeCode('ac-conf-app', await issueCode('ac-conf-app', user.id), {
      extra: { client_secret: CLIENT_SECRET },
    })
    expect((await tokensOf(post)).scope).toBe('openid read')
  })

  it('rotates the refresh token of a public client and keeps the openid scope through it', async () => {
    const user = await createUser('ac-refresh')
    await createCodeClient('ac-refresh-app')
    const tokens = await tokensOf(
      await exchangeCode('ac-refresh-app', await issueCode('ac-refresh-app', user.id)),
    )
    const next = await tokensOf(await refresh('ac-refresh-app', tokens.refresh_token as string))
    expect(next.refresh_token).not.toBe(tokens.refresh_token)
    expect(next.scope).toBe('openid read')
    // The old one is spent: presenting it again (outside the grace window) is reuse.
    expect(await callApi(next.access_token)).toEqual({ status: 200, forwarded: 1 })
  })

  it('carries no scope beyond what the user may hold now (a demotion since consent narrows it)', async () => {
    const user = await createUser('ac-demoted', ['editor'])
    await createCodeClient('ac-demoted-app', { allowedRoles: ['editor'] })
    await recordGrant(env.DB, {
      userId: user.id,
      clientId: 'ac-demoted-app',
      scopes: ['openid', 'read', 'write'],
      roles: ['editor', 'user'],
    })
    const issued = await issueCode('ac-demoted-app', user.id, { scopes: ['openid', 'read', 'write'] })
    await env.DB.prepare(`UPDATE users SET roles = '["user"]' WHERE id = ?1`).bind(user.id).run()
    const tokens = await tokensOf(await exchangeCode('ac-demoted-app', issued))
    expect(tokens.scope).toBe('openid read')
    expect(decodeJwt(tokens.access_token).roles).toEqual(['user'])
  })
})

describe('the negative matrix at the token endpoint', () => {
  it('refuses a wrong verifier as invalid_grant, without burning the code for its owner', async () => {
    const user = await createUser('ac-wrong-verifier')
    await createCodeClient('ac-wv-app')
    const issued = await issueCode('ac-wv-app', user.id)
    const other = await pkcePair()
    const text = await expectError(
      await exchangeCode('ac-wv-app', { code: issued.code, verifier: other.verifier }),
      400,
      'invalid_grant',
    )
    expect(text).not.toContain(issued.code)
    expect((await codeRow(issued.code))?.used_at).toBeNull()
    await tokensOf(await exchangeCode('ac-wv-app', issued))
  })

  it('refuses the verifier of another code (swapped PKCE pairs)', async () => {
    const user = await createUser('ac-swapped')
    await createCodeClient('ac-swap-app')
    const first = await issueCode('ac-swap-app', user.id)
    const second = await issueCode('ac-swap-app', user.id)
    await expectError(
      await exchangeCode('ac-swap-app', { code: first.code, verifier: second.verifier }),
      400,
      'invalid_grant',
    )
  })

  it('refuses a malformed verifier (42 characters, or characters outside the unreserved set)', async () => {
    const user = await createUser('ac-malformed')
    await createCodeClient('ac-malformed-app')
    const issued = await issueCode('ac-malformed-app', user.id)
    for (const verifier of [issued.verifier.slice(0, 42), `${issued.verifier.slice(0, 50)}+/=`]) {
      await expectError(
        await exchangeCode('ac-malformed-app', { code: issued.code, verifier }),
        400,
        'invalid_request',
      )
    }
  })

  it('refuses a code presented by another client, even one that holds the verifier', async () => {
    const user = await createUser('ac-other-client')
    await createCodeClient('ac-victim-app')
    await createCodeClient('ac-attacker-app')
    const issued = await issueCode('ac-victim-app', user.id)
    await expectError(await exchangeCode('ac-attacker-app', issued), 400, 'invalid_grant')
    await tokensOf(await exchangeCode('ac-victim-app', issued))
  })

  it('refuses a code after its 60 s (expires_at moved into the past)', async () => {
    const user = await createUser('ac-expired')
    await createCodeClient('ac-expired-app')
    const issued = await issueCode('ac-expired-app', user.id)
    await env.DB.prepare('UPDATE authorization_codes SET expires_at = ?2 WHERE code_hash = ?1')
      .bind(await sha256Hex(issued.code), nowSeconds())
      .run()
    await expectError(await exchangeCode('ac-expired-app', issued), 400, 'invalid_grant')
  })

  it('refuses a redirect_uri other than the one the code was issued for', async () => {
    const user = await createUser('ac-redirect')
    await createCodeClient('ac-redirect-app', {
      redirectUris: [REDIRECT, 'https://app.example/other', 'http://127.0.0.1/native'],
    })
    const issued = await issueCode('ac-redirect-app', user.id)
    for (const redirectUri of ['https://app.example/other', `${REDIRECT}/`, 'https://app.example/Callback']) {
      await expectError(await exchangeCode('ac-redirect-app', issued, { redirectUri }), 400, 'invalid_grant')
    }
    // A loopback redirect matches any port at authorize, but the token request must repeat the exact one.
    const native = await issueCode('ac-redirect-app', user.id, {
      redirectUri: 'http://127.0.0.1:51000/native',
    })
    await expectError(
      await exchangeCode('ac-redirect-app', native, { redirectUri: 'http://127.0.0.1:52000/native' }),
      400,
      'invalid_grant',
    )
    await tokensOf(
      await exchangeCode('ac-redirect-app', native, { redirectUri: 'http://127.0.0.1:51000/native' }),
    )
  })

  it('refuses an unknown code and a missing one', async () => {
    await createCodeClient('ac-unknown-app')
    const { verifier } = await pkcePair()
    const forged = `ac_${'A'.repeat(43)}`
    await expectError(await exchangeCode('ac-unknown-app', { code: forged, verifier }), 400, 'invalid_grant')
    await expectError(
      await tokenRequest({
        grant_type: 'authorization_code',
        client_id: 'ac-unknown-app',
        redirect_uri: REDIRECT,
        code_verifier: verifier,
      }),
      400,
      'invalid_request',
    )
  })

  it('refuses a public client that sends a secret as invalid_client', async () => {
    const user = await createUser('ac-public-secret')
    await createCodeClient('ac-ps-app')
    const issued = await issueCode('ac-ps-app', user.id)
    await expectError(
      await exchangeCode('ac-ps-app', issued, { secret: 'made-up-secret' }),
      401,
      'invalid_client',
    )
    await expectError(
      await exchangeCode('ac-ps-app', issued, { extra: { client_secret: 'made-up-secret' } }),
      401,
      'invalid_client',
    )
  })

  it('refuses a confidential client that sends no secret, and a request naming no client', async () => {
    const user = await createUser('ac-no-secret')
    await createCodeClient('ac-ns-app', { secret: CLIENT_SECRET })
    const issued = await issueCode('ac-ns-app', user.id)
    await expectError(await exchangeCode('ac-ns-app', issued), 401, 'invalid_client')
    await expectError(
      await exchangeCode('ac-ns-app', issued, { secret: 'gws_not-the-secret' }),
      401,
      'invalid_client',
    )
    const anonymous = await tokenRequest({
      grant_type: 'authorization_code',
      code: issued.code,
      redirect_uri: REDIRECT,
      code_verifier: issued.verifier,
    })
    await expectError(anonymous, 401, 'invalid_client')
    expect((await codeRow(issued.code))?.used_at).toBeNull()
  })

  it('refuses a client not registered for the grant as unauthorized_client', async () => {
    const user = await createUser('ac-no-grant')
    await createCodeClient('ac-ng-app', { secret: CLIENT_SECRET, grantTypes: ['client_credentials'] })
    const issued = await issueCode('ac-ng-app', user.id)
    await expectError(
      await exchangeCode('ac-ng-app', issued, { secret: CLIENT_SECRET }),
      400,
      'unauthorized_client',
    )
  })

  it('refuses the code of a user disabled since the consent', async () => {
    const user = await createUser('ac-disabled')
    await createCodeClient('ac-disabled-app')
    const issued = await issueCode('ac-disabled-app', user.id)
    await env.DB.prepare('UPDATE users SET disabled = 1 WHERE id = ?1').bind(user.id).run()
    await expectError(await exchangeCode('ac-disabled-app', issued), 400, 'invalid_grant')
  })
})

describe('code replay (RFC 6749 §4.1.2)', () => {
  it('refuses the second use and revokes what the first issued: its access token and refresh token', async () => {
    const user = await createUser('ac-replay')
    await createCodeClient('ac-replay-app')
    const issued = await issueCode('ac-replay-app', user.id)
    const first = await tokensOf(await exchangeCode('ac-replay-app', issued))
    expect(await callApi(first.access_token)).toEqual({ status: 200, forwarded: 1 })
    const text = await expectError(await exchangeCode('ac-replay-app', issued), 400, 'invalid_grant')
    expect(text).not.toContain(issued.code)
    expect(await callApi(first.access_token)).toEqual({ status: 401, forwarded: 0 })
    await expectError(await refresh('ac-replay-app', first.refresh_token as string), 400, 'invalid_grant')
  })

  it('revokes the first access token also for a client without refresh tokens', async () => {
    const user = await createUser('ac-replay-nort')
    await createCodeClient('ac-replay-nort-app', {
      secret: CLIENT_SECRET,
      grantTypes: ['authorization_code'],
    })
    const issued = await issueCode('ac-replay-nort-app', user.id)
    const first = await tokensOf(await exchangeCode('ac-replay-nort-app', issued, { secret: CLIENT_SECRET }))
    expect(first.refresh_token).toBeUndefined()
    await expectError(
      await exchangeCode('ac-replay-nort-app', issued, { secret: CLIENT_SECRET }),
      400,
      'invalid_grant',
    )
    expect(await callApi(first.access_token)).toEqual({ status: 401, forwarded: 0 })
  })

  it('ends the session of an exchange that a replay overtook while it was still writing its tokens', async () => {
    const user = await createUser('ac-overtaken')
    await createCodeClient('ac-overtaken-app')
    const issued = await issueCode('ac-overtaken-app', user.id)
    // The mark a replay leaves when it loses the redemption before the winner linked its session.
    await env.DB.prepare('UPDATE authorization_codes SET replayed_at = ?2 WHERE code_hash = ?1')
      .bind(await sha256Hex(issued.code), nowSeconds())
      .run()
    await expectError(await exchangeCode('ac-overtaken-app', issued), 400, 'invalid_grant')
    const row = await codeRow(issued.code)
    expect(row?.used_at).not.toBeNull()
    const live = await env.DB.prepare(
      'SELECT COUNT(*) AS n FROM refresh_tokens WHERE family_id = ?1 AND revoked_at IS NULL',
    )
      .bind(row?.family_id)
      .first<{ n: number }>()
    expect(live?.n).toBe(0)
    // The access token it signed before noticing is on the denylist.
    const issuedTokens = await env.DB.prepare('SELECT jti FROM session_access_tokens WHERE family_id = ?1')
      .bind(row?.family_id)
      .all<{ jti: string }>()
    expect(issuedTokens.results).toHaveLength(1)
    const denied = await env.DB.prepare('SELECT 1 AS hit FROM revoked_tokens WHERE jti_hash = ?1')
      .bind(await sha256Hex(issuedTokens.results[0]?.jti ?? ''))
      .first()
    expect(denied).toEqual({ hit: 1 })
  })

  it('lets exactly one of two concurrent redemptions win in D1, and leaves no usable token behind', async () => {
    const user = await createUser('ac-race')
    await createCodeClient('ac-race-app')
    for (let round = 0; round < 5; round++) {
      const issued = await issueCode('ac-race-app', user.id)
      const responses = await Promise.all([
        exchangeCode('ac-race-app', issued),
        exchangeCode('ac-race-app', issued),
      ])
      const bodies = await Promise.all(
        responses.map(async (response) => ({ status: response.status, text: await response.text() })),
      )
      const winners = bodies.filter((body) => body.status === 200)
      expect(winners.length, JSON.stringify(bodies)).toBeLessThanOrEqual(1)
      expect(
        bodies.filter((body) => body.status === 400 && JSON.parse(body.text).error === 'invalid_grant')
          .length,
      ).toBeGreaterThanOrEqual(1)
      // One redemption, one session: the loser created nothing.
      const families = await env.DB.prepare(
        'SELECT COUNT(DISTINCT family_id) AS n FROM refresh_tokens WHERE user_id = ?1',
      )
        .bind(user.id)
        .first<{ n: number }>()
      expect(families?.n).toBe(round + 1)
      // A concurrent second use is a replay all the same: whatever the winner got is dead.
      for (const winner of winners) {
        const tokens = JSON.parse(winner.text) as CodeTokens
        expect(await callApi(tokens.access_token)).toEqual({ status: 401, forwarded: 0 })
        await expectError(await refresh('ac-race-app', tokens.refresh_token as string), 400, 'invalid_grant')
      }
    }
  })
})

describe('client authentication at the code exchange', () => {
  it('answers Basic auth errors with a Basic challenge', async () => {
    await createCodeClient('ac-challenge-app', { secret: CLIENT_SECRET })
    const response = await tokenRequest(
      {
        grant_type: 'authorization_code',
        code: `ac_${'B'.repeat(43)}`,
        redirect_uri: REDIRECT,
        code_verifier: 'x'.repeat(43),
      },
      basicAuth('ac-challenge-app', 'wrong'),
    )
    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toMatch(/^Basic/)
  })
})
