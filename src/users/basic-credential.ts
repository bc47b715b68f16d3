import type { Principal } from '../authz/principal'
import { scopesForRoles } from '../authz/scopes'
import type { CredentialInput } from '../credential-input'
import { GatewayError } from '../errors/gateway-error'
import { assertNoSecondFactor, badCredentials, verifyLogin } from './password-check'

/** `Basic` + base64("user:password") (RFC 7617), UTF-8. Undefined when the header is not Basic. */
export function readBasicCredentials(request: Request): { username: string; password: string } | undefined {
  const header = request.headers.get('authorization')
  if (header === null || !/^basic(\s|$)/i.test(header)) return undefined
  const match = /^Basic +([A-Za-z0-9+/]+=*)$/i.exec(header)
  if (!match) throw badCredentials('invalid_credentials')
  let decoded: string
  try {
    const bytes = Uint8Array.from(atob(match[1] as string), (char) => char.charCodeAt(0))
    decoded = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes)
  } catch {
    throw badCredentials('invalid_credentials')
  }
  const colon = decoded.indexOf(':')
  if (colon < 0) throw badCredentials('invalid_credentials')
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
}

/**
 * Loader for `basic`: the same users, hashes and throttling as the password grant. Every request
 * costs one PBKDF2 derivation (100,000 iterations), which is why docs/credentials.md recommends Basic only
 * for low-rate machine clients and legacy tools.
 */
export async function loadBasic(input: CredentialInput): Promise<Principal | undefined> {
  const credentials = readBasicCredentials(input.request)
  if (!credentials) return undefined
  if (input.observeOnly)
    throw new Error('loadBasic: a password is never checked without counting the attempt')
  const { config } = input
  const user = await verifyLogin(
    input.env,
    config.settings,
    {
      ...credentials,
      ip: input.request.headers.get('cf-connecting-ip') ?? undefined,
      audit: input.audit,
      via: 'basic',
    },
    'invalid_credentials',
  )
  // Basic has no second step: passing it would skip the factor the user set up.
  assertNoSecondFactor(
    user,
    { audit: input.audit, via: 'basic' },
    new GatewayError(
      'invalid_credentials',
      'This account signs in with a second factor, which HTTP Basic cannot ask for: use an access token or an API key.',
      { challenge: { scheme: 'Basic' } },
    ),
  )
  return {
    method: 'basic',
    id: user.id,
    username: user.username,
    roles: user.roles,
    scopes: [...scopesForRoles(user.roles, config.roleClosure, config.settings.role_scopes)].sort(),
  }
}
