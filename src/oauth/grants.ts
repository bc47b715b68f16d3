import { clientTokenRoles } from '../authz/delegation'
import { grantScopes, IDENTITY_SCOPES, parseScope, scopesForRoles } from '../authz/scopes'
import { withStorage } from '../db/errors'
import { nowSeconds, parseStringList } from '../db/json'
import { GatewayError } from '../errors/gateway-error'
import { assertSameResource } from '../mcp'
import {
  assertRotationStillLive,
  createRefreshToken,
  findUsableRefreshToken,
  type GrantContext,
  invalidGrant,
  issueTokenResponse,
  revokeTokenFamily,
  rotate,
  type TokenResponse,
} from '../tokens'
import { assertNoSecondFactor, findUserById, verifyLogin } from '../users'
import type { ClientAuthentication } from './client-authentication'
import { invalidClient } from './client-authentication'
import type { GrantType } from './client-store'
import { findConsentGrant } from './consent-store'
import { auditIssued } from './token-audit'

/** RFC 8176 `amr` of password-grant tokens. */
const PASSWORD_AMR = ['pwd']

function required(form: URLSearchParams, name: string): string {
  const value = form.get(name)
  if (value === null || value === '')
    throw new GatewayError('invalid_request', `The "${name}" parameter is required.`)
  return value
}

function assertClientMayUse(auth: ClientAuthentication | undefined, grant: GrantType): void {
  if (auth && !auth.client.grantTypes.includes(grant)) {
    throw new GatewayError('unauthorized_client', `This client may not use the ${grant} grant.`)
  }
}

function userScopes(context: GrantContext, roles: readonly string[]): Set<string> {
  const { settings, roleClosure } = context.config
  return scopesForRoles(roles, roleClosure, settings.role_scopes)
}

function withinClient(allowed: Set<string>, auth: ClientAuthentication | undefined): Set<string> {
  if (!auth) return allowed
  return new Set([...allowed].filter((scope) => auth.client.scopes.includes(scope)))
}

/**
 * RFC 6749 §4.3, for first-party clients (the seed's OAuth2PasswordRequestForm flow). RFC 9700
 * §2.4 says not to use it for third-party clients; docs/credentials.md says so and `password_grant`
 * turns it off. `device`: the id of a valid device cookie for the submitted username
 * (sessions/device-cookie.ts), which takes the attempt out of the account's limits.
 */
export async function passwordGrant(
  context: GrantContext,
  form: URLSearchParams,
  auth: ClientAuthentication | undefined,
  device?: string,
): Promise<TokenResponse> {
  if (!context.config.settings.password_grant) {
    throw new GatewayError('unsupported_grant_type', 'The password grant is turned off.')
  }
  assertClientMayUse(auth, 'password')
  // The password grant hands the app the user's password and every power of the account; only the
  // operator's own apps may use it (RFC 9700 §2.4), and their tokens are first-party.
  if (auth && !auth.client.firstParty)
    throw new GatewayError(
      'unauthorized_client',
      'Only a client the operator marked first_party may use the password grant.',
    )
  const username = required(form, 'username')
  const password = required(form, 'password')
  const requested = parseScope(form.get('scope'))
  const user = await verifyLogin(
    { ...context.rateLimits, DB: context.db, PASSWORD_PEPPER: context.pepper },
    context.config.settings,
    { username, password, ip: context.ip, audit: context.audit, via: 'password_grant', device },
    'invalid_grant',
  )
  // The grant has no second step: tokens from it would skip the factor the user set up.
  assertNoSecondFactor(
    user,
    { audit: context.audit, via: 'password_grant', clientId: auth?.client.clientId },
    new GatewayError(
      'mfa_required',
      'This account signs in with a second factor, which the password grant cannot ask for: use the authorization code flow (/auth/authorize).',
    ),
  )
  // The user just proved the password: this is the session's auth_time, kept through refreshes.
  const authTime = nowSeconds()
  const scopes = grantScopes(requested, withinClient(userScopes(context, user.roles), auth))
  const clientId = auth?.client.clientId
  const withRefresh = !auth || auth.client.grantTypes.includes('refresh_token')
  const session = withRefresh
    ? await createRefreshToken(context.db, {
        userId: user.id,
        clientId,
        scope: scopes.join(' '),
        ttlSeconds: context.config.settings.refresh_token_ttl_seconds,
        authTime,
        firstParty: true,
        amr: PASSWORD_AMR,
      })
    : undefined
  const response = await issueTokenResponse(context, user, scopes, {
    clientId,
    sessionId: session?.familyId,
    refreshToken: session?.token,
    authTime,
    firstParty: true,
    amr: PASSWORD_AMR,
  })
  auditIssued(context, 'password', user.id, clientId, response)
  return response
}

/**
 * A refreshed token's roles, from the user's current roles: a delegated family's client as it is
 * now and the user's consent as it is now (authz/delegation.ts). A client-less family that is not
 * first-party (none is written so; fail closed) gets no role.
 */
async function refreshedRoles(
  context: GrantContext,
  user: { id: string; roles: string[] },
  auth: ClientAuthentication | undefined,
  firstParty: boolean,
): Promise<string[]> {
  if (firstParty) return user.roles
  if (!auth) return []
  const { client } = auth
  const grant = await withStorage('consent lookup', () =>
    findConsentGrant(context.db, user.id, client.clientId),
  )
  return clientTokenRoles(client, user.roles, grant?.roles ?? [], context.config.roleClosure)
}

/** RFC 6749 §6 with rotation and reuse detection (RFC 9700 §4.14.2). */
export async function refreshGrant(
  context: GrantContext,
  form: URLSearchParams,
  auth: ClientAuthentication | undefined,
): Promise<TokenResponse> {
  assertClientMayUse(auth, 'refresh_token')
  const token = required(form, 'refresh_token')
  const requested = parseScope(form.get('scope'))
  const row = await findUsableRefreshToken(context.db, token, auth?.client.clientId)
  // A refresh keeps the grant's resource (RFC 8707 §2.2: naming another is invalid_target).
  assertSameResource(form.getAll('resource'), row.resource)
  const original = row.scope.split(' ').filter(Boolean)
  // The scope can only narrow (RFC 6749 §6).
  if (requested?.some((scope) => !original.includes(scope))) {
    throw new GatewayError('invalid_scope', 'A refresh cannot widen the scope.')
  }
  const user = await withStorage('user lookup', () => findUserById(context.db, row.user_id))
  if (!user || user.disabled) throw invalidGrant('The refresh token is invalid.')
  const outcome = await rotate(context.db, token, row, context.config.settings.refresh_token_ttl_seconds)
  if (outcome.kind === 'reused') {
    // A used token presented again: either the client or a thief holds a copy. End the session.
    await revokeTokenFamily({ DB: context.db, KV: context.kv }, row.family_id)
    context.audit?.record({
      type: 'refresh_reuse_detected',
      outcome: 'failure',
      subjectId: row.user_id,
      clientId: row.client_id,
      details: { session_id: row.family_id },
    })
    throw invalidGrant('The refresh token was already used; the session has been ended.')
  }
  // Current roles decide, so a demoted user's refreshed token shrinks too. A family of a client
  // follows the client's current standing (first_party wins over how the family began); a
  // client-less family is first-party only if its rows say so.
  const firstParty = auth ? auth.client.firstParty : row.first_party === 1
  const roles = await refreshedRoles(context, user, auth, firstParty)
  const allowed = userScopes(context, user.roles)
  // OpenID identity scopes (from the code flow) need no role; they stay as long as the session.
  const scopes = (requested ?? original)
    .filter((scope) => allowed.has(scope) || IDENTITY_SCOPES.has(scope))
    .sort()
  const response = await issueTokenResponse(context, { ...user, roles }, scopes, {
    clientId: row.client_id ?? undefined,
    sessionId: row.family_id,
    refreshToken: outcome.successor,
    authTime: row.auth_time ?? undefined,
    firstParty,
    resource: row.resource ?? undefined,
    amr: row.amr === null ? undefined : parseStringList(row.amr),
    acr: row.acr ?? undefined,
  })
  // A logout-all or logout that committed while this refresh ran must win: see the function.
  await assertRotationStillLive(context.db, outcome.successorHash)
  auditIssued(context, 'refresh_token', user.id, row.client_id ?? undefined, response)
  return response
}

/** RFC 6749 §4.4: a confidential service client acting as itself. */
export async function clientCredentialsGrant(
  context: GrantContext,
  form: URLSearchParams,
  auth: ClientAuthentication | undefined,
): Promise<TokenResponse> {
  if (!auth?.confidential) throw invalidClient('The client_credentials grant requires client authentication.')
  assertClientMayUse(auth, 'client_credentials')
  const scopes = grantScopes(parseScope(form.get('scope')), new Set(auth.client.scopes))
  const { client } = auth
  const response = await issueTokenResponse(
    context,
    { id: client.clientId, username: client.clientId, roles: client.roles },
    scopes,
    // A service client acting as itself manages nothing of the gateway unless the operator vouches for it.
    { clientId: client.clientId, firstParty: client.firstParty },
  )
  auditIssued(context, 'client_credentials', client.clientId, client.clientId, response)
  return response
}
