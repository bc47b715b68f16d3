import { loadApiKey } from '../api-keys'
import type { Principal } from '../authz/principal'
import { CREDENTIAL_KINDS, type CredentialKind } from '../config/schema'
import type { CredentialInput, CredentialLoader } from '../credential-input'
import { type Challenge, GatewayError } from '../errors/gateway-error'
import { assertSessionRequestAllowed, loadSession } from '../sessions'
import { loadBasic } from '../users'
import { loadBearerJwt } from './bearer-jwt'
import { loadExternalJwt } from './external-jwt'

// One loader per credential kind.
const loaders: Record<CredentialKind, CredentialLoader> = {
  jwt: loadBearerJwt,
  external_jwt: loadExternalJwt,
  api_key: loadApiKey,
  basic: loadBasic,
  session: loadSession,
}

// One error per route's credential list (the list is the compiled route's own array, so as many
// entries as routes): constructing an Error is the largest single cost of a 401 without
// credentials, and the error carries nothing request-specific (no stack: Error.stackTraceLimit = 0).
const missingByCredentials = new WeakMap<readonly CredentialKind[], GatewayError>()

function missingCredentials(credentials: readonly CredentialKind[]): GatewayError {
  let error = missingByCredentials.get(credentials)
  if (!error) {
    error = newMissingCredentials(credentials)
    missingByCredentials.set(credentials, error)
  }
  return error
}

/** 401 naming every scheme the route accepts, so a Basic-capable client is prompted too. */
function newMissingCredentials(credentials: readonly CredentialKind[]): GatewayError {
  const bearer = credentials.includes('jwt') || credentials.includes('external_jwt')
  const basic = credentials.includes('basic')
  const challenges: Challenge[] = []
  if (bearer || !basic) challenges.push({ scheme: 'Bearer' })
  if (basic) challenges.push({ scheme: 'Basic' })
  return new GatewayError(
    bearer || !basic ? 'invalid_token' : 'invalid_credentials',
    'This route requires credentials.',
    {
      challenge: challenges,
    },
  )
}

/**
 * Issuer and subject both: external ids are namespaced by issuer name (externalPrincipalId), and
 * the issuer is compared on its own too so that no id spelling can make two identities equal.
 */
function samePrincipal(a: Principal, b: Principal): boolean {
  return a.id === b.id && (a.issuerName ?? '') === (b.issuerName ?? '')
}

/**
 * Runs every loader the route enables. Precedence is fixed (jwt, external_jwt, api_key, basic,
 * session: the order of CREDENTIAL_KINDS, whatever order a route lists them in) but there is no downgrade: if two credentials are presented they must both be
 * valid and name the same subject, else the request is rejected.
 */
export async function loadPrincipal(input: CredentialInput): Promise<Principal> {
  let found: Principal | undefined
  for (const kind of CREDENTIAL_KINDS) {
    if (!input.credentials.includes(kind)) continue
    const principal = await loaders[kind](input)
    if (!principal) continue
    if (found && !samePrincipal(found, principal)) {
      throw new GatewayError('invalid_token', 'The request carries credentials for different principals.', {
        challenge: { scheme: 'Bearer', error: 'invalid_token' },
      })
    }
    found ??= principal
  }
  if (!found) throw missingCredentials(input.credentials)
  // Session comes last, so `found` is the session's only when no other credential was presented:
  // then the ambient cookie is what authenticates, and the CSRF guard applies.
  if (found.method === 'session') await assertSessionRequestAllowed(input)
  return found
}
