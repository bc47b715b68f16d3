/** create-client: an OAuth client whose secret is shown once and stored only as SHA-256. */
import { randomToken, sha256Hex } from '../../src/crypto/bytes'
import { checkOrigin, checkRedirectUri } from '../../src/oauth/redirect-uri'
import { clientCreatedAuditStatement } from './admin-audit'
import { type AdminCommand, exactlyPositionals, out, UsageError } from './admin-command'
import { executeSql } from './admin-d1'
import { assertClientId, assertClientName, assertGrantTypes, assertNames } from './admin-names'
import { remoteCreateClient } from './admin-remote'
import { joinStatements, jsonList, NOW_SECONDS, sql } from './admin-sql'
import { describeTarget, parseCommandArgs, readTarget, remoteOf, TARGET_HELP } from './admin-target'

// A recognisable prefix lets secret scanners (and people) spot a leaked secret; 32 random bytes
// (256 bits) make the unsalted SHA-256 that client-auth.ts compares against safe to store.
export const CLIENT_SECRET_PREFIX = 'gws_'
const CLIENT_SECRET_BYTES = 32

function defaultGrants(isPublic: boolean, redirects: boolean): string[] {
  if (redirects) return ['authorization_code', 'refresh_token']
  return isPublic ? ['password', 'refresh_token'] : ['client_credentials']
}

/** The Worker's own registration rules (src/oauth/redirect-uri.ts), so both sides agree. */
function assertRedirectUris(values: readonly string[], flag: string): string[] {
  for (const uri of values) {
    const check = checkRedirectUri(uri)
    if (!check.ok) throw new UsageError(`${flag} ${JSON.stringify(uri.slice(0, 100))} ${check.reason}`)
  }
  return [...new Set(values)]
}

function assertOrigins(values: readonly string[]): string[] {
  for (const origin of values) {
    const check = checkOrigin(origin)
    if (!check.ok)
      throw new UsageError(`--allowed-origin ${JSON.stringify(origin.slice(0, 100))} ${check.reason}`)
  }
  return [...new Set(values)]
}

export const createClient: AdminCommand = {
  name: 'create-client',
  summary: 'create an OAuth client (prints its secret once)',
  help: `Usage: npm run admin -- create-client <client_id> [--public] [--redirect-uri URI]... [--post-logout-redirect-uri URI]...
         [--grant G]... [--scope S]... [--role R]... [--allow-role R]... [--allowed-origin O]...
         [--skip-consent] [--first-party] [--name N] [target]

Creates an OAuth client. A confidential client gets a generated secret (${CLIENT_SECRET_PREFIX} + 32 random
bytes, base64url), printed on stdout once and never again: D1 stores only its SHA-256.

  --scope S     a scope the client may request (repeatable; lowercase name)
  --grant G     an allowed grant (repeatable): password, refresh_token, client_credentials,
                authorization_code (default: authorization_code, refresh_token when --redirect-uri is
                given; else client_credentials, or for --public: password, refresh_token)
  --redirect-uri URI
                a redirect URI for the authorization code flow (repeatable; matched exactly; https, http
                only on 127.0.0.1, [::1] or localhost, or a reverse-DNS app scheme like com.example.app:/cb;
                no fragment, no userinfo). Required with the authorization_code grant.
  --post-logout-redirect-uri URI
                where /auth/end-session may send the browser afterwards (repeatable; same rules)
  --allow-role R
                a role the app may act with for a user (repeatable): a token it gets through the
                authorization code flow carries the user's roles that are also allowed here (after
                the role hierarchy), and the consent page names each one. Default: none.
  --allowed-origin O
                a browser origin (https://app.example.com) that may call /auth/token, /auth/revoke
                and /auth/userinfo with CORS, besides the origins of the redirect URIs (repeatable)
  --skip-consent
                no consent page for the scopes the client may request; a role the user has not
                yet let the app act with is still asked for
  --first-party
                your own app: its tokens act with every role of the user and may manage the account
                (admin API, API keys, sessions, password). Never for an app someone else controls.
  --role R      a role of the client itself, for client_credentials tokens (repeatable)
  --public      a public client (no secret; it names itself with client_id); cannot use client_credentials
  --name N      a display name (default: the client id)

${TARGET_HELP}
`,
  async run(args) {
    const { values, positionals } = parseCommandArgs(args, {
      scope: { type: 'string', multiple: true },
      grant: { type: 'string', multiple: true },
      role: { type: 'string', multiple: true },
      public: { type: 'boolean' },
      name: { type: 'string' },
      'redirect-uri': { type: 'string', multiple: true },
      'post-logout-redirect-uri': { type: 'string', multiple: true },
      'skip-consent': { type: 'boolean' },
      'first-party': { type: 'boolean' },
      'allow-role': { type: 'string', multiple: true },
      'allowed-origin': { type: 'string', multiple: true },
    })
    const target = readTarget(values)
    const clientId = assertClientId(exactlyPositionals(positionals, ['client_id'])[0] as string)
    const isPublic = values.public === true
    const redirectUris = assertRedirectUris(values['redirect-uri'] ?? [], '--redirect-uri')
    const postLogoutRedirectUris = assertRedirectUris(
      values['post-logout-redirect-uri'] ?? [],
      '--post-logout-redirect-uri',
    )
    const grants = assertGrantTypes(values.grant ?? defaultGrants(isPublic, redirectUris.length > 0))
    if (grants.includes('authorization_code') !== redirectUris.length > 0) {
      throw new UsageError(
        'the authorization_code grant and --redirect-uri go together: give both or neither',
      )
    }
    if (isPublic && grants.includes('client_credentials')) {
      throw new UsageError(
        'a public client cannot use client_credentials (RFC 6749 §4.4 needs client authentication)',
      )
    }
    const scopes = assertNames(values.scope ?? [], 'scope')
    const roles = assertNames(values.role ?? [], 'role')
    const allowedRoles = assertNames(values['allow-role'] ?? [], 'role')
    const allowedOrigins = assertOrigins(values['allowed-origin'] ?? [])
    const firstParty = values['first-party'] === true
    const name = assertClientName(values.name ?? clientId)
    const remote = remoteOf(values)
    if (remote) {
      const input = {
        client_id: clientId,
        name,
        public: isPublic,
        grant_types: grants,
        scopes,
        roles,
        redirect_uris: redirectUris,
        post_logout_redirect_uris: postLogoutRedirectUris,
        skip_consent: values['skip-consent'] === true,
        first_party: firstParty,
        allowed_roles: allowedRoles,
        allowed_origins: allowedOrigins,
      }
      await remoteCreateClient(remote, input, values.json === true)
      return 0
    }
    const secret = isPublic ? undefined : randomToken(CLIENT_SECRET_PREFIX, CLIENT_SECRET_BYTES)
    const secretHash = secret === undefined ? null : await sha256Hex(secret)
    const skipConsent = values['skip-consent'] === true
    const statement = sql`INSERT INTO oauth_clients (client_id, secret_hash, name, grant_types, scopes, roles,
        redirect_uris, post_logout_redirect_uris, skip_consent, first_party, allowed_roles, allowed_origins,
        disabled, created_at)
      VALUES (${clientId}, ${secretHash}, ${name}, ${jsonList(grants)}, ${jsonList(scopes)}, ${jsonList(roles)},
        ${jsonList(redirectUris)}, ${jsonList(postLogoutRedirectUris)}, ${skipConsent}, ${firstParty},
        ${jsonList(allowedRoles)}, ${jsonList(allowedOrigins)}, 0, ${NOW_SECONDS})
      ON CONFLICT(client_id) DO NOTHING RETURNING client_id`
    // The row this batch inserted is the one holding this secret's hash (or, public, made just now).
    const marker = secretHash === null ? sql`created_at = ${NOW_SECONDS}` : sql`secret_hash = ${secretHash}`
    const audit = clientCreatedAuditStatement(clientId, marker, {
      grant_types: grants,
      scopes,
      first_party: firstParty,
      allowed_roles: allowedRoles,
    })
    const [rows = []] = await executeSql(target, joinStatements([statement, audit]), {
      secrets: secretHash === null ? [] : [secretHash],
    })
    if (!rows[0]) throw new Error(`client "${clientId}" already exists`)
    const kind = isPublic ? 'public' : 'confidential'
    process.stderr.write(
      `created ${kind} client ${clientId} (grants: ${grants.join(', ')}; scopes: ${scopes.join(' ') || 'none'}) in ${describeTarget(target)} D1\n`,
    )
    out(`client_id: ${clientId}`)
    if (secret !== undefined) {
      out(`client_secret: ${secret}`)
      process.stderr.write('Store the secret now: it is not shown again (D1 holds only its SHA-256).\n')
    }
    return 0
  },
}
