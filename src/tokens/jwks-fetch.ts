import type { JSONWebKeySet, JWK } from 'jose'
import { readCappedBody } from '../http/capped-body'

/** A fetch the cache can be handed in tests; production uses the platform's. */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>

export interface JwksFetchOptions {
  fetch?: FetchLike
  /** Per request; an IdP that hangs must not hold a request (or its isolate's CPU budget) hostage. */
  timeoutMs?: number
  /** Per response body; a JWKS or discovery document is a few KiB. */
  maxBytes?: number
}

/** Where an issuer's keys come from: a JWKS URL, or an OpenID discovery document naming one. */
export interface JwksSource {
  issuer: string
  jwks_url?: string
  discovery_url?: string
}

export const JWKS_FETCH_TIMEOUT_MS = 3_000
export const JWKS_MAX_BYTES = 64 * 1024
// Real sets hold a handful of keys (current, next, previous); more is a misconfiguration or abuse.
const MAX_KEYS = 64
const ASYMMETRIC_KTY: ReadonlySet<string> = new Set(['RSA', 'EC', 'OKP'])
// Private members of RSA, EC and OKP keys: a published set must never carry them.
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const

/** Why keys could not be loaded; logged, never shown to clients. */
export class JwksFetchError extends Error {
  override readonly name = 'JwksFetchError'
}

async function readCapped(response: Response, maxBytes: number): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN)
  if (declared > maxBytes) throw new JwksFetchError(`response larger than ${maxBytes} bytes`)
  const bytes = await readCappedBody(response.body, maxBytes)
  if (bytes === undefined) throw new JwksFetchError(`response larger than ${maxBytes} bytes`)
  return new TextDecoder().decode(bytes)
}

/** GET a JSON document with a timeout and a size cap. Redirects are refused: we fetch only what is configured. */
export async function fetchJson(url: string, options: JwksFetchOptions = {}): Promise<unknown> {
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init))
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), options.timeoutMs ?? JWKS_FETCH_TIMEOUT_MS)
  try {
    const response = await doFetch(url, {
      method: 'GET',
      headers: { accept: 'application/json, application/jwk-set+json' },
      redirect: 'manual',
      signal: controller.signal,
    })
    if (response.status !== 200) {
      await response.body?.cancel()
      throw new JwksFetchError(`${url} answered ${response.status}`)
    }
    const text = await readCapped(response, options.maxBytes ?? JWKS_MAX_BYTES)
    try {
      return JSON.parse(text) as unknown
    } catch {
      throw new JwksFetchError(`${url} did not answer JSON`)
    }
  } catch (error) {
    if (error instanceof JwksFetchError) throw error
    if (controller.signal.aborted) throw new JwksFetchError(`${url} timed out`)
    throw new JwksFetchError(`${url}: ${error instanceof Error ? error.message : String(error)}`)
  } finally {
    clearTimeout(timer)
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function isPublicAsymmetricKey(key: unknown): key is JWK {
  if (!isObject(key) || typeof key.kty !== 'string' || !ASYMMETRIC_KTY.has(key.kty)) return false
  if (PRIVATE_MEMBERS.some((member) => member in key)) return false
  // A key published for encryption must not verify signatures (RFC 7517 §4.2).
  return key.use === undefined || key.use === 'sig'
}

/**
 * Accepts only `{keys: [...]}` and keeps only public RSA/EC/OKP signing keys. Symmetric (`oct`)
 * keys are dropped: a shared secret in a public document would let anyone mint tokens, and the
 * algorithms we pin are all asymmetric anyway. A set with no usable key is an error.
 */
export function parseJwks(document: unknown): JSONWebKeySet {
  if (!isObject(document) || !Array.isArray(document.keys)) throw new JwksFetchError('not a JWK set')
  const keys = document.keys.filter(isPublicAsymmetricKey).slice(0, MAX_KEYS)
  if (keys.length === 0) throw new JwksFetchError('the JWK set has no public signing key')
  return { keys }
}

/**
 * Resolves `jwks_uri` from an OpenID Connect discovery document (OIDC Discovery 1.0 §4.3).
 * The document's `issuer` must equal the configured issuer exactly: otherwise one IdP's metadata
 * could make us trust keys for another. `jwks_uri` must be on the discovery URL's origin: the
 * configured URL is what the operator vouched for, and a tampered or compromised document must
 * not be able to point our fetches at any other host (an SSRF into the edge's network, or an
 * attacker's key server).
 */
export async function discoverJwksUri(
  source: JwksSource & { discovery_url: string },
  options: JwksFetchOptions,
) {
  const document = await fetchJson(source.discovery_url, options)
  if (!isObject(document)) throw new JwksFetchError('the discovery document is not a JSON object')
  if (document.issuer !== source.issuer)
    throw new JwksFetchError('the discovery document names another issuer')
  if (typeof document.jwks_uri !== 'string')
    throw new JwksFetchError('the discovery document has no jwks_uri')
  let jwksUri: URL
  try {
    jwksUri = new URL(document.jwks_uri)
  } catch {
    throw new JwksFetchError('the discovery document has an invalid jwks_uri')
  }
  if (jwksUri.origin !== new URL(source.discovery_url).origin)
    throw new JwksFetchError('the jwks_uri is not on the discovery document origin')
  return jwksUri.href
}

/** Fetches an issuer's current key set from its configured JWKS URL or through discovery. */
export async function fetchIssuerJwks(
  source: JwksSource,
  options: JwksFetchOptions = {},
): Promise<JSONWebKeySet> {
  const url =
    source.jwks_url ??
    (source.discovery_url
      ? await discoverJwksUri({ ...source, discovery_url: source.discovery_url }, options)
      : undefined)
  if (!url) throw new JwksFetchError('no jwks_url or discovery_url configured')
  return parseJwks(await fetchJson(url, options))
}
