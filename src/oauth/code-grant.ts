/**
 * `grant_type=authorization_code` at the token endpoint (RFC 6749 §4.1.3, RFC 7636 §4.5, OAuth 2.1
 * §4.1.3). Every failure about the code itself is `invalid_grant` with the same few words, so the
 * response does not tell an attacker which binding was wrong.
 */

import { clientTokenRoles } from '../authz/delegation'
import { IDENTITY_SCOPES, scopesForRoles } from '../authz/scopes'
import { sha256Hex } from '../crypto/bytes'
import { withStorage } from '../db/errors'
import { nowSeconds, parseStringList } from '../db/json'
import { GatewayError } from '../errors/gateway-error'
import { assertSameResource } from '../mcp'
import {
  createRefreshToken,
  type GrantContext,
  invalidGrant,
  issueTokenResponse,
  revokeTokenFamily,
  type TokenResponse,
} from '../tokens'
import { findUserById } from '../users'
import { isAuthorizationCodeShape } from './authorization-code'
import type { ClientAuthentication } from './client-authentication'
import { invalidClient } from './client-authentication'
import type { OAuthClient } from './client-store'
import {
  type AuthorizationCodeRow,
  findAuthorizationCode,
  markCodeReplayed,
  recordCodeFamily,
  redeemAuthorizationCode,
  wasCodeReplayed,
} from './code-store'
import { findGrant } from './consent'
import { issueIdToken } from './id-token'
import { isCodeVerifier, verifierMatches } from './pkce'
import { auditIssued } from './token-audit'

export type CodeTokenResponse = TokenResponse & { id_token?: string }

const BAD_CODE =
  'The authorization code is invalid, expired, already used, or was issued for another request.'

function required(form: URLSearchParams, name: string): string {
  const value = form.get(name)
  if (value === null || value === '')
    throw new GatewayError('invalid_request', `The "${name}" parameter is required.`)
  return value
}

/**
 * RFC 6749 §4.1.2: a code used twice means someone else may hold it, so whatever the first
 * redemption issued is ended: its refresh-token family and every access token recorded in it.
 */
async function endWhatTheCodeIssued(context: GrantContext, codeHash: string): Promise<void> {
  const marked = await withStorage('mark code replay', () => markCodeReplayed(context.db, codeHash))
  if (marked?.family_id) await endFamily(context, marked.family_id)
}

async function endFamily(context: GrantContext, familyId: string): Promise<void> {
  await revokeTokenFamily({ DB: context.db, KV: context.kv }, familyId, {
    clockSkewSeconds: context.config.settings.clock_skew_seconds,
  })
}

/** Checks every binding of the code before it is spent, so a wrong guess does not burn it. */
async function assertBindings(
  row: AuthorizationCodeRow,
  clientId: string,
  redirectUri: string,
  verifier: string,
): Promise<void> {
  // The verifier is checked even when another binding already failed, so timing says nothing.
  const verifierOk = await verifierMatches(verifier, row.code_challenge)
  if (row.client_id !== clientId || row.redirect_uri !== redirectUri || !verifierOk)
    throw invalidGrant(BAD_CODE)
}

export async function authorizationCodeGrant(
  context: GrantContext,
  form: URLSearchParams,
  auth: ClientAuthentication | undefined,
): Promise<CodeTokenResponse> {
  // RFC 6749 §4.1.3: a public client names itself; a confidential one authenticates (client-authentication.ts).
  if (!auth) throw invalidClient('The authorization_code grant requires client_id or client authentication.')
  const { client } = auth
  if (!client.grantTypes.includes('authorization_code'))
    throw new GatewayError('unauthorized_client', 'This client may not use the authorization_code grant.')
  const code = required(form, 'code')
  const redirectUri = required(form, 'redirect_uri')
  const verifier = required(form, 'code_verifier')
  if (!isCodeVerifier(verifier))
    throw new GatewayError('invalid_request', 'The code_verifier must be 43-128 unreserved characters.')
  if (!isAuthorizationCodeShape(code)) throw invalidGrant(BAD_CODE)

  const codeHash = await sha256Hex(code)
  const row = await withStorage('authorization code lookup', () =>
    findAuthorizationCode(context.db, codeHash),
  )
  if (!row) throw invalidGrant(BAD_CODE)
  if (row.used_at !== null) {
    await endWhatTheCodeIssued(context, codeHash)
    throw invalidGrant(BAD_CODE)
  }
  if (row.expires_at <= nowSeconds()) throw invalidGrant(BAD_CODE)
  await assertBindings(row, client.clientId, redirectUri, verifier)
  // RFC 8707 §2.2: the token request may name the resource again; it must be the code's.
  assertSameResource(form.getAll('resource'), row.resource)
  const user = await withStorage('user lookup', () => findUserById(context.db, row.user_id))
  if (!user || user.disabled) throw invalidGrant(BAD_CODE)

  if (
    !(await withStorage('redeem authorization code', () => redeemAuthorizationCode(context.db, codeHash)))
  ) {
    // Lost the race to a concurrent redemption (or the code just expired): a replay all the same.
    await endWhatTheCodeIssued(context, codeHash)
    throw invalidGrant(BAD_CODE)
  }
  return issueFromCode(context, row, codeHash, user, client)
}

async function issueFromCode(
  context: GrantContext,
  row: AuthorizationCodeRow,
  codeHash: string,
  user: { id: string; username: string; roles: string[]; email: string | null; emailVerified: boolean },
  client: OAuthClient,
): Promise<CodeTokenResponse> {
  const { settings, roleClosure } = context.config
  const withRefresh = client.grantTypes.includes('refresh_token')
  // The app acts for the user: its token is delegated unless the operator vouches for the client.
  const grant = client.firstParty
    ? undefined
    : await findGrant(context.db, { userId: user.id, clientId: client.clientId })
  const roles = clientTokenRoles(client, user.roles, grant?.roles ?? [], roleClosure)
  // Roles decide at exchange time too: a user demoted since the consent gets the smaller set.
  const allowed = scopesForRoles(user.roles, roleClosure, settings.role_scopes)
  const scopes = row.scope
    .split(' ')
    .filter((scope) => scope !== '' && (IDENTITY_SCOPES.has(scope) || allowed.has(scope)))
  // The refresh row keeps the code's auth_time, amr and acr, so refreshed tokens still say how and
  // when the user signed in.
  const amr = parseStringList(row.amr)
  const acr = row.acr ?? undefined
  const session = withRefresh
    ? await createRefreshToken(context.db, {
        userId: user.id,
        clientId: row.client_id,
        scope: scopes.join(' '),
        ttlSeconds: settings.refresh_token_ttl_seconds,
        authTime: row.auth_time,
        firstParty: client.firstParty,
        resource: row.resource ?? undefined,
        amr,
        acr,
      })
    : undefined
  // A family without refresh tokens still records the access token, so a replay can deny it.
  const familyId = session?.familyId ?? crypto.randomUUID()
  await withStorage('link code to session', () => recordCodeFamily(context.db, codeHash, familyId))
  const response: CodeTokenResponse = await issueTokenResponse(context, { ...user, roles }, scopes, {
    clientId: row.client_id,
    sessionId: familyId,
    refreshToken: session?.token,
    authTime: row.auth_time,
    firstParty: client.firstParty,
    resource: row.resource ?? undefined,
    amr,
    acr,
  })
  // A replay that ran between our redemption and the writes above could not see them; it left
  // its mark, so we end the session ourselves. Either it saw our writes or we see its mark.
  if (await withStorage('code replay check', () => wasCodeReplayed(context.db, codeHash))) {
    await endFamily(context, familyId)
    throw invalidGrant(BAD_CODE)
  }
  auditIssued(context, 'authorization_code', user.id, row.client_id, response)
  if (scopes.includes('openid')) {
    response.id_token = await issueIdToken(context.ring, {
      issuer: context.config.issuer,
      clientId: row.client_id,
      subject: user.id,
      authTime: row.auth_time,
      nonce: row.nonce ?? undefined,
      amr,
      acr,
      email:
        scopes.includes('email') && user.email
          ? { email: user.email, verified: user.emailVerified }
          : undefined,
      accessToken: response.access_token,
      ttlSeconds: settings.access_token_ttl_seconds,
    })
  }
  return response
}
