import { env } from 'cloudflare:test'
import { CompactSign, type CryptoKey, generateKeyPair, importJWK, type JWK } from 'jose'

/**
 * Token forging for attack tests: the real signing keys of the test Worker (vitest.config.ts puts
 * them in env.SIGNING_KEYS), so a test can produce a validly signed token with exactly one bad
 * header member or claim, and raw segment builders for what jose refuses to produce.
 */

export const SIGNER_KID = 'test-key-1'

const encoder = new TextEncoder()

export function base64url(input: Uint8Array | string): string {
  const bytes = typeof input === 'string' ? encoder.encode(input) : input
  let binary = ''
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/** base64url of the JSON text of `value` (any JSON value: objects, arrays, numbers, strings). */
export function segment(value: unknown): string {
  return base64url(JSON.stringify(value))
}

function signingJwks(): JWK[] {
  if (typeof env.SIGNING_KEYS !== 'string') throw new Error('env.SIGNING_KEYS is not set')
  return (JSON.parse(env.SIGNING_KEYS) as { keys: JWK[] }).keys
}

function jwkOf(kid: string): JWK {
  const jwk = signingJwks().find((key) => key.kid === kid)
  if (!jwk) throw new Error(`no key ${kid} in SIGNING_KEYS`)
  return jwk
}

/** The gateway's own private key (what an attacker must never be able to stand in for). */
export async function gatewayPrivateKey(kid = SIGNER_KID): Promise<CryptoKey> {
  return (await importJWK(jwkOf(kid), 'ES256')) as CryptoKey
}

/** The public half, as /.well-known/jwks.json would serve it: what an attacker can know. */
export function gatewayPublicJwk(kid = SIGNER_KID): JWK {
  const { kty, crv, x, y } = jwkOf(kid)
  return { kty, crv, x, y }
}

/** The public key's SubjectPublicKeyInfo DER bytes (the base of the PEM and DER HMAC-secret attacks). */
export async function gatewayPublicSpki(kid = SIGNER_KID): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey(
    'jwk',
    gatewayPublicJwk(kid) as JsonWebKey,
    { name: 'ECDSA', namedCurve: 'P-256' },
    true,
    ['verify'],
  )
  return new Uint8Array((await crypto.subtle.exportKey('spki', key)) as ArrayBuffer)
}

export function pem(spki: Uint8Array): string {
  let binary = ''
  for (const byte of spki) binary += String.fromCharCode(byte)
  const lines = btoa(binary).match(/.{1,64}/g) ?? []
  return `-----BEGIN PUBLIC KEY-----\n${lines.join('\n')}\n-----END PUBLIC KEY-----\n`
}

/** An ES256 key pair the gateway has never seen. */
export async function attackerKeyPair(): Promise<{ privateKey: CryptoKey; publicJwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true })
  const exported = (await crypto.subtle.exportKey('jwk', publicKey)) as JsonWebKey
  return { privateKey, publicJwk: { kty: exported.kty, crv: exported.crv, x: exported.x, y: exported.y } }
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000)
}

function settings(): Record<string, unknown> {
  return (env.SETTINGS ?? {}) as Record<string, unknown>
}

/** The audience the gateway expects (wrangler.toml SETTINGS.audience). */
export function expectedAudience(): string {
  return String(settings().audience)
}

/** The issuer the gateway expects (env.ISSUER, http://gateway.test in the tests). */
export function expectedIssuer(): string {
  return String(env.ISSUER)
}

export type Claims = Record<string, unknown>

/** Every claim an access token of ours carries, valid now; `overrides` set a key to undefined to drop it. */
export function validClaims(overrides: Claims = {}): Claims {
  const now = nowSeconds()
  const claims: Claims = {
    iss: expectedIssuer(),
    aud: expectedAudience(),
    sub: 'forged-user-id',
    username: 'forged-user',
    roles: ['user'],
    scope: 'read',
    client_id: null,
    iat: now,
    nbf: now,
    exp: now + 900,
    jti: crypto.randomUUID(),
    ...overrides,
  }
  for (const [name, value] of Object.entries(claims)) if (value === undefined) delete claims[name]
  return claims
}

export type Header = Record<string, unknown>

/** The protected header of our access tokens; `overrides` set a member to undefined to drop it. */
export function validHeader(overrides: Header = {}): Header {
  const header: Header = { alg: 'ES256', kid: SIGNER_KID, typ: 'at+jwt', ...overrides }
  for (const [name, value] of Object.entries(header)) if (value === undefined) delete header[name]
  return header
}

/**
 * Signs any JSON payload (object or not) under any header with jose's CompactSign, by default
 * with the gateway's real signing key.
 */
export async function signCompact(
  payload: unknown,
  header: Header = validHeader(),
  key?: CryptoKey | Uint8Array,
): Promise<string> {
  const signingKey = key ?? (await gatewayPrivateKey())
  return new CompactSign(encoder.encode(JSON.stringify(payload)))
    .setProtectedHeader(header as Parameters<CompactSign['setProtectedHeader']>[0])
    .sign(signingKey)
}

/** A token of ours, validly signed, with the given claim and header changes. */
export function forgeToken(claims: Claims = {}, header: Header = {}): Promise<string> {
  return signCompact(validClaims(claims), validHeader(header))
}

/**
 * ES256 over `header.payload` with WebCrypto, for headers jose refuses to sign (unknown `crit`).
 * WebCrypto's ECDSA output is already the JWS form (r || s, 64 bytes).
 */
export async function signRawEs256(header: Header, payload: unknown, key?: CryptoKey): Promise<string> {
  const signingInput = `${segment(header)}.${segment(payload)}`
  const signature = await crypto.subtle.sign(
    { name: 'ECDSA', hash: 'SHA-256' },
    key ?? (await gatewayPrivateKey()),
    encoder.encode(signingInput),
  )
  return `${signingInput}.${base64url(new Uint8Array(signature))}`
}
