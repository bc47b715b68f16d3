import { CompactSign } from 'jose'
import { describe, expect, it } from 'vitest'
import { bearer, createUser, login } from './support/accounts'
import {
  attackerKeyPair,
  base64url,
  forgeToken,
  gatewayPublicJwk,
  gatewayPublicSpki,
  nowSeconds,
  pem,
  SIGNER_KID,
  segment,
  signCompact,
  signRawEs256,
  validClaims,
  validHeader,
} from './support/forge'
import { gatewayFetch, testId, UPSTREAM, upstreamReceived } from './support/gateway'

const INVALID_TOKEN_CHALLENGE = 'Bearer realm="edge-auth-gateway", error="invalid_token"'
const PROTECTED_PATH = '/api/things'

/** Sends `authorization` to a route that needs authentication and returns what came back. */
async function attempt(authorization: string) {
  const id = testId()
  const response = await gatewayFetch(PROTECTED_PATH, {
    headers: { authorization, 'x-test-id': id },
  })
  const text = await response.text()
  return { response, text, forwarded: await upstreamReceived(id) }
}

/**
 * The contract's rejection: 401, the RFC 6750 invalid_token challenge, the error JSON (which never
 * echoes the token) and nothing forwarded upstream.
 */
async function expectRejected(authorization: string, challenge = INVALID_TOKEN_CHALLENGE): Promise<void> {
  const { response, text, forwarded } = await attempt(authorization)
  expect(response.status).toBe(401)
  expect(response.headers.get('www-authenticate')).toBe(challenge)
  const body = JSON.parse(text) as Record<string, unknown>
  expect(Object.keys(body).sort()).toEqual(['error', 'error_description', 'request_id'])
  expect(body.error).toBe('invalid_token')
  expect(typeof body.error_description).toBe('string')
  expect(body.request_id).toBe(response.headers.get('x-request-id'))
  const credential = authorization.replace(/^\S+\s+/, '')
  if (credential.length >= 16) expect(text).not.toContain(credential.slice(0, 64))
  expect(forwarded).toEqual([])
}

function withSignature(token: string, signature: string): string {
  const [header, payload] = token.split('.')
  return `${header}.${payload}.${signature}`
}

describe('the forging helper (positive control)', () => {
  it('produces a token with every required claim that the gateway accepts and forwards', async () => {
    const token = await forgeToken({ sub: 'control-id', username: 'control', roles: ['editor'] })
    const id = testId()
    const response = await gatewayFetch(PROTECTED_PATH, { headers: { ...bearer(token), 'x-test-id': id } })
    expect(response.status).toBe(200)
    const [received] = await upstreamReceived(id)
    expect(received?.headers['x-auth-user-id']).toBe('control-id')
    expect(received?.headers['x-auth-user']).toBe('control')
    expect(received?.headers['x-auth-roles']).toBe('editor')
    expect(received?.headers['x-auth-method']).toBe('jwt')
  })

  it('accepts a token that expired 10 s ago, inside the 30 s clock skew (the expiry tests are real)', async () => {
    const now = nowSeconds()
    const token = await forgeToken({ iat: now - 910, nbf: now - 910, exp: now - 10 })
    const { response } = await attempt(`Bearer ${token}`)
    expect(response.status).toBe(200)
  })
})

describe('algorithm confusion', () => {
  for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
    it(`rejects an unsigned token with alg "${alg}" and an empty signature`, async () => {
      const token = `${segment(validHeader({ alg }))}.${segment(validClaims({ roles: ['admin'] }))}.`
      await expectRejected(`Bearer ${token}`)
    })

    it(`rejects an alg "${alg}" token that carries a (real ES256) signature`, async () => {
      const signed = await forgeToken({ roles: ['admin'] })
      const payload = signed.split('.')[1]
      const token = `${segment(validHeader({ alg }))}.${payload}.${signed.split('.')[2]}`
      await expectRejected(`Bearer ${token}`)
    })

    it(`rejects an alg "${alg}" token without kid and with a junk signature`, async () => {
      const token = `${segment({ alg, typ: 'at+jwt' })}.${segment(validClaims())}.${base64url('x')}`
      await expectRejected(`Bearer ${token}`)
    })
  }

  // Our key really signed these (ES256 over the header as sent): only the header's own `alg`, which
  // must equal the key's, refuses them. The signature check alone would not: it uses the key's alg.
  for (const alg of ['ES384', 'ES512', 'EdDSA', 'PS256', 'RS256', 'ES256K']) {
    it(`rejects a token our ES256 key signed whose header says alg "${alg}"`, async () => {
      const token = await signRawEs256(validHeader({ alg }), validClaims({ roles: ['admin'] }))
      await expectRejected(`Bearer ${token}`)
    })
  }

  describe('HS256 signed with the gateway public key as the HMAC secret', () => {
    const secrets: [string, () => Promise<Uint8Array>][] = [
      ['the PEM (SPKI) text', async () => new TextEncoder().encode(pem(await gatewayPublicSpki()))],
      ['the DER (SPKI) bytes', gatewayPublicSpki],
      [
        'the base64url of the DER (SPKI) bytes',
        async () => new TextEncoder().encode(base64url(await gatewayPublicSpki())),
      ],
      ['the JWK JSON text', async () => new TextEncoder().encode(JSON.stringify(gatewayPublicJwk()))],
    ]
    for (const [form, secret] of secrets) {
      it(`rejects HS256 keyed with ${form}, with the gateway's kid`, async () => {
        const token = await signCompact(
          validClaims({ roles: ['admin'] }),
          validHeader({ alg: 'HS256' }),
          await secret(),
        )
        await expectRejected(`Bearer ${token}`)
      })

      it(`rejects HS256 keyed with ${form}, without a kid`, async () => {
        const token = await signCompact(
          validClaims({ roles: ['admin'] }),
          validHeader({ alg: 'HS256', kid: undefined }),
          await secret(),
        )
        await expectRejected(`Bearer ${token}`)
      })
    }
  })
})

describe('broken and forged signatures', () => {
  it('rejects a null signature (empty third segment)', async () => {
    const token = withSignature(await forgeToken(), '')
    await expectRejected(`Bearer ${token}`)
  })

  it('rejects a truncated signature', async () => {
    const token = await forgeToken()
    const signature = token.split('.')[2] ?? ''
    await expectRejected(`Bearer ${withSignature(token, signature.slice(0, signature.length - 4))}`)
  })

  it('rejects a tampered payload (roles changed to admin, original signature kept)', async () => {
    const token = await forgeToken({ roles: ['user'] })
    const [header, payload, signature] = token.split('.')
    const claims = JSON.parse(atob((payload ?? '').replace(/-/g, '+').replace(/_/g, '/'))) as Record<
      string,
      unknown
    >
    const tampered = `${header}.${segment({ ...claims, roles: ['admin'] })}.${signature}`
    await expectRejected(`Bearer ${tampered}`)
  })

  it('rejects a tampered copy (same jti, roles admin) of a token the gateway already verified and cached', async () => {
    const token = await forgeToken({ roles: ['user'] })
    expect((await attempt(`Bearer ${token}`)).response.status).toBe(200)
    const [header, payload, signature] = token.split('.')
    const claims = JSON.parse(atob((payload ?? '').replace(/-/g, '+').replace(/_/g, '/'))) as Record<
      string,
      unknown
    >
    await expectRejected(`Bearer ${header}.${segment({ ...claims, roles: ['admin'] })}.${signature}`)
  })

  it('rejects a cached token replayed with a forged signature (the cache is keyed by the whole token)', async () => {
    const token = await forgeToken()
    expect((await attempt(`Bearer ${token}`)).response.status).toBe(200)
    await expectRejected(`Bearer ${withSignature(token, base64url(new Uint8Array(64)))}`)
  })

  it('rejects ES256 with r = s = 0 in DER form (MAYCAQACAQA, the "psychic signature")', async () => {
    await expectRejected(`Bearer ${withSignature(await forgeToken(), 'MAYCAQACAQA')}`)
  })

  it('rejects ES256 with r = s = 0 as 64 zero bytes', async () => {
    await expectRejected(`Bearer ${withSignature(await forgeToken(), base64url(new Uint8Array(64)))}`)
  })

  it('rejects a token signed by a key not in SIGNING_KEYS that claims kid test-key-1', async () => {
    const attacker = await attackerKeyPair()
    const token = await signCompact(validClaims({ roles: ['admin'] }), validHeader(), attacker.privateKey)
    await expectRejected(`Bearer ${token}`)
  })
})

describe('header members that choose the key', () => {
  it('rejects an embedded jwk header holding the attacker key that signed the token', async () => {
    const attacker = await attackerKeyPair()
    const header = validHeader({ kid: undefined, jwk: attacker.publicJwk })
    await expectRejected(
      `Bearer ${await signCompact(validClaims({ roles: ['admin'] }), header, attacker.privateKey)}`,
    )
  })

  it('rejects an embedded jwk header even when it carries the gateway kid', async () => {
    const attacker = await attackerKeyPair()
    const header = validHeader({ jwk: { ...attacker.publicJwk, kid: SIGNER_KID } })
    await expectRejected(
      `Bearer ${await signCompact(validClaims({ roles: ['admin'] }), header, attacker.privateKey)}`,
    )
  })

  // The echo upstream records only requests carrying an x-test-id header, which a key fetch would
  // not carry; what is asserted is that the attacker-signed token is refused.
  for (const member of ['jku', 'x5u'] as const) {
    it(`rejects a ${member} header pointing at an attacker URL that would serve the signing key`, async () => {
      const attacker = await attackerKeyPair()
      const header = validHeader({ kid: 'attacker', [member]: `${UPSTREAM}/jwks?marker=${testId()}` })
      await expectRejected(`Bearer ${await signCompact(validClaims(), header, attacker.privateKey)}`)
    })

    it(`rejects a ${member} header at http://attacker.invalid on a validly signed token`, async () => {
      const token = await forgeToken({}, { [member]: 'http://attacker.invalid/jwks.json' })
      await expectRejected(`Bearer ${token}`)
    })
  }

  it('rejects a kid that is a path traversal', async () => {
    await expectRejected(`Bearer ${await forgeToken({}, { kid: '../../etc/passwd' })}`)
  })

  it('rejects a kid that is SQL text', async () => {
    await expectRejected(`Bearer ${await forgeToken({}, { kid: "' OR 1=1 --" })}`)
  })

  it('rejects a validly signed token with a crit header (b64, which jose itself would honour)', async () => {
    const header = validHeader({ crit: ['b64'], b64: true })
    await expectRejected(`Bearer ${await signRawEs256(header, validClaims())}`)
  })

  it('rejects a validly signed token with a crit header naming an unknown extension', async () => {
    const header = validHeader({ crit: ['exp'], exp: nowSeconds() + 900 })
    await expectRejected(`Bearer ${await signRawEs256(header, validClaims())}`)
  })
})

describe('time claims', () => {
  it('rejects a validly signed token without exp', async () => {
    await expectRejected(`Bearer ${await forgeToken({ exp: undefined })}`)
  })

  it('rejects a token that expired beyond the 30 s clock skew', async () => {
    const now = nowSeconds()
    await expectRejected(`Bearer ${await forgeToken({ iat: now - 960, nbf: now - 960, exp: now - 60 })}`)
  })

  it('rejects a token whose nbf is in the future', async () => {
    await expectRejected(`Bearer ${await forgeToken({ nbf: nowSeconds() + 120 })}`)
  })

  it('rejects a token whose iat is in the future', async () => {
    const now = nowSeconds()
    await expectRejected(`Bearer ${await forgeToken({ iat: now + 120, nbf: now, exp: now + 900 })}`)
  })

  it('rejects a token whose exp is the string "9999999999"', async () => {
    await expectRejected(`Bearer ${await forgeToken({ exp: '9999999999' })}`)
  })

  it('rejects a token whose iat is a string date', async () => {
    await expectRejected(`Bearer ${await forgeToken({ iat: String(nowSeconds()) })}`)
  })

  it('rejects a token issued longer ago than the access-token lifetime (iat an hour ago, exp a year out)', async () => {
    const now = nowSeconds()
    await expectRejected(
      `Bearer ${await forgeToken({ iat: now - 3600, nbf: now - 3600, exp: now + 31_536_000 })}`,
    )
  })
})

describe('issuer, audience and type', () => {
  it('rejects a wrong iss', async () => {
    await expectRejected(`Bearer ${await forgeToken({ iss: 'http://evil.test' })}`)
  })

  it('rejects a missing iss', async () => {
    await expectRejected(`Bearer ${await forgeToken({ iss: undefined })}`)
  })

  it('rejects an iss array that contains the real issuer', async () => {
    await expectRejected(`Bearer ${await forgeToken({ iss: ['http://gateway.test', 'http://evil.test'] })}`)
  })

  for (const aud of ['other-service', 'edge-auth-gateway.evil', 'edge-auth-gateway ', 'EDGE-AUTH-GATEWAY']) {
    it(`rejects the wrong or look-alike aud ${JSON.stringify(aud)}`, async () => {
      await expectRejected(`Bearer ${await forgeToken({ aud })}`)
    })
  }

  it('rejects a missing aud', async () => {
    await expectRejected(`Bearer ${await forgeToken({ aud: undefined })}`)
  })

  it('rejects typ "JWT" (an ID token or another JWT presented as an access token)', async () => {
    await expectRejected(`Bearer ${await forgeToken({}, { typ: 'JWT' })}`)
  })

  it('rejects a token without typ', async () => {
    await expectRejected(`Bearer ${await forgeToken({}, { typ: undefined })}`)
  })
})

describe('malformed tokens', () => {
  const payloads: [string, unknown][] = [
    ['a JSON array', [validClaims()]],
    ['a number', 1234567890],
    ['a string', 'admin'],
    ['null', null],
  ]
  for (const [kind, payload] of payloads) {
    it(`rejects a validly signed token whose payload is ${kind}`, async () => {
      await expectRejected(`Bearer ${await signCompact(payload)}`)
    })
  }

  it('rejects a 2-segment token', async () => {
    const [header, payload] = (await forgeToken()).split('.')
    await expectRejected(`Bearer ${header}.${payload}`)
  })

  it('rejects a 4-segment token', async () => {
    await expectRejected(`Bearer ${await forgeToken()}.${base64url('extra')}`)
  })

  it('rejects a validly signed token larger than 8 KiB', async () => {
    const token = await forgeToken({ padding: 'a'.repeat(8 * 1024) })
    expect(token.length).toBeGreaterThan(8 * 1024)
    await expectRejected(`Bearer ${token}`)
  })

  it('rejects a validly signed token with CR/LF in username (header injection)', async () => {
    await expectRejected(`Bearer ${await forgeToken({ username: 'alice\r\nX-Auth-Roles: admin' })}`)
  })

  it('rejects a validly signed token with CR/LF in roles (header injection)', async () => {
    await expectRejected(`Bearer ${await forgeToken({ roles: ['user\r\nX-Auth-User: root'] })}`)
  })

  it('rejects a validly signed token with a lone LF in scope', async () => {
    await expectRejected(`Bearer ${await forgeToken({ scope: 'read\nX-Auth-User: root' })}`)
  })

  it('rejects a validly signed token whose roles is a string instead of an array', async () => {
    await expectRejected(`Bearer ${await forgeToken({ roles: 'admin' })}`)
  })
})

describe('how the token is presented', () => {
  it('refuses a JWT smuggled as Basic credentials on a route that does not enable basic', async () => {
    // RFC 6750 §3.1: a request using an unsupported scheme carries no credential of ours, so the
    // challenge names no error code; it is still refused and nothing is forwarded.
    const token = await forgeToken()
    await expectRejected(`Basic ${token}`, 'Bearer realm="edge-auth-gateway"')
  })

  it('rejects two tokens in one header separated by ", Bearer"', async () => {
    const a = await forgeToken()
    const b = await forgeToken({ roles: ['admin'] })
    await expectRejected(`Bearer ${a}, Bearer ${b}`)
  })

  it('rejects two tokens in one header separated by a space', async () => {
    const a = await forgeToken()
    const b = await forgeToken()
    await expectRejected(`Bearer ${a} ${b}`)
  })

  it('rejects a refresh token presented as a bearer token', async () => {
    await createUser('attack-refresh-as-bearer')
    const tokens = await login('attack-refresh-as-bearer')
    expect(tokens.refresh_token).toMatch(/^rt_/)
    await expectRejected(`Bearer ${tokens.refresh_token}`)
  })

  it('rejects a JWS that carries an access token of ours as a nested payload signed by the attacker', async () => {
    await createUser('attack-nested')
    const { access_token } = await login('attack-nested')
    const attacker = await attackerKeyPair()
    const nested = await new CompactSign(new TextEncoder().encode(access_token))
      .setProtectedHeader({ alg: 'ES256', kid: SIGNER_KID, typ: 'at+jwt', cty: 'JWT' })
      .sign(attacker.privateKey)
    await expectRejected(`Bearer ${nested}`)
  })
})
