import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type JsonWebKey,
  type KeyObject,
  sign,
} from 'node:crypto'
import type { JWK } from 'jose'
import { uuidv7 } from '../../src/crypto/uuid7'
import { issueAccessToken } from '../../src/tokens/access-token'
import { generateSigningJwk, loadKeyRing } from '../../src/tokens/signing-keys'

/** The gateway's signing key for this run: SIGNING_KEYS, plus what the peers verify with. */
export interface SigningKeys {
  /** The SIGNING_KEYS secret (a private JWK set). */
  secret: string
  privateKey: KeyObject
  /** Public members only (for the naive Hono peer). */
  publicJwk: JWK
  /** SubjectPublicKeyInfo PEM (for HAProxy's jwt_verify). */
  publicPem: string
  /** The ring's second key, Ed25519: it verifies (the EdDSA cold scenario's tokens), never signs. */
  eddsa: { secret: string; privateKey: KeyObject }
}

export interface TokenClaims {
  issuer: string
  audience: string
  ttlSeconds: number
}

function base64url(value: string | Buffer): string {
  return Buffer.from(value).toString('base64url')
}

function decodeSegment(segment: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as Record<string, unknown>
}

export async function generateSigningKeys(): Promise<SigningKeys> {
  const jwk = await generateSigningJwk('ES256')
  const privateKey = createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' })
  const { kty, crv, x, y } = jwk
  const edJwk = await generateSigningJwk('EdDSA')
  return {
    secret: JSON.stringify({ keys: [jwk, edJwk] }),
    eddsa: {
      secret: JSON.stringify({ keys: [edJwk] }),
      privateKey: createPrivateKey({ key: edJwk as JsonWebKey, format: 'jwk' }),
    },
    privateKey,
    publicJwk: { kty, crv, x, y },
    publicPem: createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString(),
  }
}

/**
 * Mints the gateway's own access tokens fast (node:crypto, ~10x faster than WebCrypto here), in
 * exactly the shape the gateway issues: header and claims are copied from one token made by the
 * gateway's own `issueAccessToken` (or given, fromToken), then only sub, username, jti (UUIDv7), iat,
 * nbf and exp change.
 */
export class AccessTokenMinter {
  private constructor(
    private readonly header: string,
    private readonly template: Record<string, unknown>,
    private readonly privateKey: KeyObject,
    private readonly ttlSeconds: number,
  ) {}

  static async create(keys: SigningKeys, claims: TokenClaims): Promise<AccessTokenMinter> {
    const ring = await loadKeyRing(keys.secret)
    const { token } = await issueAccessToken(
      ring,
      { sub: 'template', username: 'template', roles: ['user'], scope: 'read' },
      { issuer: claims.issuer, audience: claims.audience, ttlSeconds: claims.ttlSeconds },
    )
    const [header, payload] = token.split('.') as [string, string]
    return new AccessTokenMinter(header, decodeSegment(payload), keys.privateKey, claims.ttlSeconds)
  }

  /**
   * Mints in the shape of `token`, a token the gateway issued (e.g. by a code exchange, so with its
   * `client_id`, delegated scopes, `sid`, `auth_time` and `amr`): its header and claims as they are.
   */
  static fromToken(keys: SigningKeys, token: string, ttlSeconds: number): AccessTokenMinter {
    const [header, payload] = token.split('.') as [string, string]
    return new AccessTokenMinter(header, decodeSegment(payload), keys.privateKey, ttlSeconds)
  }

  /** The claims every minted token shares (sub, username, jti and the times excepted). */
  get claims(): Readonly<Record<string, unknown>> {
    return this.template
  }

  /** `issuedAt` (unix seconds) in the past makes an expired token. */
  mint(subject: string, jti = uuidv7(), issuedAt = Math.floor(Date.now() / 1000)): string {
    const now = issuedAt
    const payload = {
      ...this.template,
      sub: subject,
      username: subject,
      jti,
      iat: now,
      nbf: now,
      exp: now + this.ttlSeconds,
    }
    const input = `${this.header}.${base64url(JSON.stringify(payload))}`
    // Ed25519 hashes internally (no digest argument); ECDSA as JWS wants it, r || s.
    const signature =
      this.privateKey.asymmetricKeyType === 'ed25519'
        ? sign(null, Buffer.from(input), this.privateKey)
        : sign('sha256', Buffer.from(input), { key: this.privateKey, dsaEncoding: 'ieee-p1363' })
    return `${input}.${base64url(signature)}`
  }

  /** `count` distinct tokens spread over `subjects` users. */
  mintMany(count: number, subjects: number, prefix: string): string[] {
    const tokens: string[] = []
    for (let i = 0; i < count; i++) tokens.push(this.mint(`${prefix}-${i % subjects}`))
    return tokens
  }
}

/** A token whose signature no longer matches (one character of the signature changed). */
export function tamperSignature(token: string): string {
  const dot = token.lastIndexOf('.')
  const at = dot + 10
  const replacement = token[at] === 'A' ? 'B' : 'A'
  return token.slice(0, at) + replacement + token.slice(at + 1)
}

/** The KV key under which the gateway looks a jti up: sha256 hex (src/db/kv-keys.ts). */
export function revokedJtiKey(jti: string): string {
  return `revoked:jti:${createHash('sha256').update(jti).digest('hex')}`
}

/** A fake external IdP (RS256, as most IdPs sign) whose JWKS the upstream serves. */
export class ExternalIdp {
  readonly kid = 'bench-idp-1'
  private readonly privateKey: KeyObject
  readonly jwks: { keys: JWK[] }

  constructor(
    readonly issuer: string,
    readonly audience: string,
  ) {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 })
    this.privateKey = pair.privateKey
    const publicJwk = pair.publicKey.export({ format: 'jwk' }) as JWK
    this.jwks = { keys: [{ ...publicJwk, kid: this.kid, alg: 'RS256', use: 'sig' }] }
  }

  mint(subject: string): string {
    const now = Math.floor(Date.now() / 1000)
    const header = base64url(JSON.stringify({ alg: 'RS256', kid: this.kid, typ: 'JWT' }))
    const payload = base64url(
      JSON.stringify({
        iss: this.issuer,
        aud: this.audience,
        sub: subject,
        scope: 'read',
        roles: ['user'],
        jti: crypto.randomUUID(),
        iat: now,
        exp: now + 3600,
      }),
    )
    const signature = sign('sha256', Buffer.from(`${header}.${payload}`), this.privateKey)
    return `${header}.${payload}.${base64url(signature)}`
  }
}
