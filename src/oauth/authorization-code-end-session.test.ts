import { env } from 'cloudflare:test'
import { generateKeyPair, SignJWT } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import { createUser } from '../../test/support/accounts'
import { type CodeTokens, exchangeCode, issueCode, REDIRECT } from '../../test/support/authorization-code'
import { type KeyRing, loadKeyRing } from '../tokens/signing-keys'
import { insertClient } from './client-store'
import { validateEndSessionRequest } from './end-session'
import { issueIdToken } from './id-token'

// RP-initiated logout, the part that needs no browser session: the hint, the client, the target.

const ISSUER = 'http://gateway.test'
const AFTER = 'https://app.example/signed-out'
let ring: KeyRing
let idToken: string
let userId: string

function validate(params: Record<string, string>) {
  return validateEndSessionRequest(env.DB, ring, ISSUER, new URLSearchParams(params))
}

beforeAll(async () => {
  ring = await loadKeyRing(env.SIGNING_KEYS)
  for (const clientId of ['es-app', 'es-other']) {
    await insertClient(env.DB, {
      clientId,
      name: clientId,
      grantTypes: ['authorization_code'],
      scopes: ['openid'],
      roles: [],
      redirectUris: [REDIRECT],
      postLogoutRedirectUris: [AFTER],
    })
  }
  userId = (await createUser('es-user')).id
  const response = await exchangeCode('es-app', await issueCode('es-app', userId, { scopes: ['openid'] }))
  idToken = ((await response.json()) as CodeTokens).id_token as string
})

describe('end-session request validation', () => {
  it('names the user and app of a valid id_token_hint and the registered target with state', async () => {
    expect(
      await validate({ id_token_hint: idToken, post_logout_redirect_uri: AFTER, state: 'bye 1' }),
    ).toEqual({
      ok: true,
      userId,
      clientId: 'es-app',
      redirect: `${AFTER}?state=bye+1`,
    })
  })

  it('accepts an expired ID token as a hint (apps log out long after sign-in)', async () => {
    const expired = await issueIdToken(ring, {
      issuer: ISSUER,
      clientId: 'es-app',
      subject: userId,
      authTime: 1,
      amr: [],
      accessToken: 'x',
      ttlSeconds: -3600,
    })
    expect(await validate({ id_token_hint: expired })).toMatchObject({ ok: true, userId })
  })

  it.each([
    ['an unregistered target (open redirect)', { post_logout_redirect_uri: 'https://evil.example/' }],
    ['a prefix variant of the target', { post_logout_redirect_uri: `${AFTER}/x` }],
    [
      'a target registered for the client, but the hint names another',
      { client_id: 'es-other', post_logout_redirect_uri: AFTER },
    ],
  ])('refuses %s', async (_, extra) => {
    expect(await validate({ id_token_hint: idToken, ...extra })).toMatchObject({ ok: false })
  })

  it('refuses a target without a hint or client_id, and accepts one with client_id', async () => {
    expect(await validate({ post_logout_redirect_uri: AFTER })).toMatchObject({ ok: false })
    expect(await validate({ client_id: 'es-other', post_logout_redirect_uri: AFTER })).toMatchObject({
      ok: true,
      clientId: 'es-other',
      redirect: AFTER,
    })
  })

  it('refuses a hint signed by another key under our kid, and an access token as hint', async () => {
    const { privateKey } = await generateKeyPair('ES256')
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: ring.signer.kid, typ: 'JWT' })
      .setIssuer(ISSUER)
      .setSubject(userId)
      .setAudience('es-app')
      .sign(privateKey)
    expect(await validate({ id_token_hint: forged })).toMatchObject({ ok: false })
    const response = await exchangeCode('es-app', await issueCode('es-app', userId, { scopes: ['openid'] }))
    const accessToken = ((await response.json()) as CodeTokens).access_token
    expect(await validate({ id_token_hint: accessToken })).toMatchObject({ ok: false })
  })
})
