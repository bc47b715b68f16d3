/**
 * A WebAuthn authenticator simulated with WebCrypto, for the passkey ceremonies' tests: it builds
 * what a browser sends (toJSON() of the credential) from the options the gateway gave, with knobs
 * for every field an attacker or a broken authenticator could get wrong. The attestation object
 * (`fmt: "none"`) needs CBOR: `cbor()` below is a test-only encoder of the few types it uses (the
 * gateway itself only decodes, with @oslojs/cbor).
 */
import { toBase64Url } from '../../src/crypto/bytes'

type CborValue = number | string | Uint8Array | CborValue[] | Map<CborValue, CborValue>

function head(major: number, length: number): number[] {
  if (length < 24) return [(major << 5) | length]
  if (length < 0x100) return [(major << 5) | 24, length]
  if (length < 0x10000) return [(major << 5) | 25, length >> 8, length & 0xff]
  return [
    (major << 5) | 26,
    (length >>> 24) & 0xff,
    (length >> 16) & 0xff,
    (length >> 8) & 0xff,
    length & 0xff,
  ]
}

export function cbor(value: CborValue): Uint8Array {
  const parts: number[] = []
  const write = (item: CborValue): void => {
    if (typeof item === 'number') parts.push(...(item >= 0 ? head(0, item) : head(1, -1 - item)))
    else if (typeof item === 'string') {
      const bytes = new TextEncoder().encode(item)
      parts.push(...head(3, bytes.length), ...bytes)
    } else if (item instanceof Uint8Array) parts.push(...head(2, item.length), ...item)
    else if (Array.isArray(item)) {
      parts.push(...head(4, item.length))
      item.forEach(write)
    } else {
      parts.push(...head(5, item.size))
      for (const [key, entry] of item) {
        write(key)
        write(entry)
      }
    }
  }
  write(value)
  return Uint8Array.from(parts)
}

function concat(...chunks: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0))
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.length
  }
  return out
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))
}

const utf8 = (text: string): Uint8Array<ArrayBuffer> => concat(new TextEncoder().encode(text))

/** WebCrypto's ECDSA signature (r‖s) as the ASN.1 DER WebAuthn carries (§6.5.6). */
export function derSignature(p1363: Uint8Array): Uint8Array {
  const integer = (half: Uint8Array): Uint8Array => {
    let start = 0
    while (start < half.length - 1 && half[start] === 0) start++
    const trimmed = half.slice(start)
    const body = (trimmed[0] ?? 0) & 0x80 ? concat(Uint8Array.of(0), trimmed) : trimmed
    return concat(Uint8Array.of(0x02, body.length), body)
  }
  const r = integer(p1363.slice(0, 32))
  const s = integer(p1363.slice(32))
  return concat(Uint8Array.of(0x30, r.length + s.length), r, s)
}

export const FLAG_UP = 0x01
export const FLAG_UV = 0x04
export const FLAG_BE = 0x08
export const FLAG_BS = 0x10
const FLAG_AT = 0x40

/** What a test may change in a response, each one a field an attacker controls. */
export interface Tweaks {
  origin?: string
  rpId?: string
  type?: string
  challenge?: string
  /** Authenticator data flags; default UP | UV (plus the authenticator's backup flags). */
  flags?: number
  counter?: number
  /** Assertion: the user handle sent (default: the one the authenticator stored). */
  userHandle?: string | null
  crossOrigin?: boolean
}

export interface CreationOptions {
  challenge: string
  rp: { id: string }
  user: { id: string }
}

export interface RequestOptions {
  challenge: string
  rpId: string
}

export class TestAuthenticator {
  /** The counter the next assertion signs with (0 stays 0: an authenticator without one). */
  counter: number
  userHandle?: string
  readonly credentialId = crypto.getRandomValues(new Uint8Array(32))
  readonly aaguid = crypto.getRandomValues(new Uint8Array(16))

  private constructor(
    private readonly keys: CryptoKeyPair,
    readonly algorithm: 'ES256' | 'EdDSA',
    readonly backupFlags: number,
    counter: number,
    readonly origin: string,
  ) {
    this.counter = counter
  }

  static async create(
    options: { algorithm?: 'ES256' | 'EdDSA'; synced?: boolean; counter?: number; origin?: string } = {},
  ): Promise<TestAuthenticator> {
    const algorithm = options.algorithm ?? 'ES256'
    const params = algorithm === 'ES256' ? { name: 'ECDSA', namedCurve: 'P-256' } : { name: 'Ed25519' }
    const keys = (await crypto.subtle.generateKey(params, true, ['sign', 'verify'])) as CryptoKeyPair
    const backup = options.synced ? FLAG_BE | FLAG_BS : 0
    return new TestAuthenticator(
      keys,
      algorithm,
      backup,
      options.counter ?? 0,
      options.origin ?? 'http://gateway.test',
    )
  }

  get id(): string {
    return toBase64Url(this.credentialId)
  }

  /** The public key as the passkeys store keeps it (a JWK of the key alone), for seeding a row directly. */
  async publicJwk(): Promise<JsonWebKey> {
    const { kty, crv, x, y } = (await crypto.subtle.exportKey('jwk', this.keys.publicKey)) as JsonWebKey
    return y === undefined ? { kty, crv, x } : { kty, crv, x, y }
  }

  private async coseKey(): Promise<Uint8Array> {
    const raw = new Uint8Array((await crypto.subtle.exportKey('raw', this.keys.publicKey)) as ArrayBuffer)
    if (this.algorithm === 'EdDSA')
      return cbor(
        new Map<CborValue, CborValue>([
          [1, 1],
          [3, -8],
          [-1, 6],
          [-2, raw],
        ]),
      )
    return cbor(
      new Map<CborValue, CborValue>([
        [1, 2],
        [3, -7],
        [-1, 1],
        [-2, raw.slice(1, 33)],
        [-3, raw.slice(33)],
      ]),
    )
  }

  private clientData(kind: 'webauthn.create' | 'webauthn.get', challenge: string, tweaks: Tweaks) {
    return utf8(
      JSON.stringify({
        type: tweaks.type ?? kind,
        challenge: tweaks.challenge ?? challenge,
        origin: tweaks.origin ?? this.origin,
        crossOrigin: tweaks.crossOrigin ?? false,
      }),
    )
  }

  private async authData(
    rpId: string,
    tweaks: Tweaks,
    attested?: Uint8Array,
  ): Promise<Uint8Array<ArrayBuffer>> {
    const flags = (tweaks.flags ?? FLAG_UP | FLAG_UV | this.backupFlags) | (attested ? FLAG_AT : 0)
    const counter = tweaks.counter ?? this.counter
    const count = Uint8Array.of(
      (counter >>> 24) & 0xff,
      (counter >> 16) & 0xff,
      (counter >> 8) & 0xff,
      counter & 0xff,
    )
    return concat(
      await sha256(utf8(tweaks.rpId ?? rpId)),
      Uint8Array.of(flags),
      count,
      attested ?? new Uint8Array(),
    )
  }

  /** What `navigator.credentials.create()` then `toJSON()` give for these options. */
  async register(options: CreationOptions, tweaks: Tweaks = {}) {
    this.userHandle = options.user.id
    const clientDataJSON = this.clientData('webauthn.create', options.challenge, tweaks)
    const length = Uint8Array.of(this.credentialId.length >> 8, this.credentialId.length & 0xff)
    const attested = concat(this.aaguid, length, this.credentialId, await this.coseKey())
    const authData = await this.authData(options.rp.id, tweaks, attested)
    const attestationObject = cbor(
      new Map<CborValue, CborValue>([
        ['fmt', 'none'],
        ['attStmt', new Map()],
        ['authData', authData],
      ]),
    )
    return {
      id: this.id,
      rawId: this.id,
      type: 'public-key',
      response: {
        clientDataJSON: toBase64Url(clientDataJSON),
        attestationObject: toBase64Url(attestationObject),
        transports: ['internal'],
      },
      clientExtensionResults: {},
    }
  }

  /** What `navigator.credentials.get()` then `toJSON()` give; the counter advances as a real one would. */
  async assert(options: RequestOptions, tweaks: Tweaks = {}) {
    if (this.counter > 0 && tweaks.counter === undefined) this.counter++
    const clientDataJSON = this.clientData('webauthn.get', options.challenge, tweaks)
    const authData = await this.authData(options.rpId, tweaks)
    const message = concat(authData, await sha256(clientDataJSON))
    const params = this.algorithm === 'ES256' ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'Ed25519' }
    const raw = new Uint8Array(await crypto.subtle.sign(params, this.keys.privateKey, message))
    const signature = this.algorithm === 'ES256' ? derSignature(raw) : raw
    const userHandle = tweaks.userHandle === undefined ? this.userHandle : tweaks.userHandle
    return {
      id: this.id,
      rawId: this.id,
      type: 'public-key',
      response: {
        clientDataJSON: toBase64Url(clientDataJSON),
        authenticatorData: toBase64Url(authData),
        signature: toBase64Url(signature),
        ...(userHandle === null ? {} : { userHandle }),
      },
      clientExtensionResults: {},
    }
  }
}
