/**
 * `[[vars.LOGIN_PROVIDERS]]`: external login providers (Sign in with Google / GitHub / any OpenID
 * Connect provider). Validated like the route table: every problem is reported with its field.
 * The client secret is never in wrangler.toml: `client_secret_secret` names the secret that holds
 * it (`wrangler secret put NAME`, `.dev.vars` locally); a missing secret disables that one
 * provider at runtime with a clear page, it does not take the gateway down.
 */
import * as z from 'zod/mini'
import './zod-locale'

const ROLE = /^[a-z][a-z0-9_:.-]{0,63}$/
const roleName = z
  .string()
  .check(z.regex(ROLE, 'must be lowercase letters, digits, "_", ":", ".", "-" (max 64)'))
const secretName = z
  .string()
  .check(z.regex(/^[A-Z][A-Z0-9_]{0,63}$/, 'must be a secret name like "GOOGLE_CLIENT_SECRET"'))
const scope = z
  .string()
  .check(z.regex(/^[\x21\x23-\x5b\x5d-\x7e]{1,256}$/, 'must be an OAuth scope token (RFC 6749 §3.3)'))
const domain = z
  .string()
  .check(z.regex(/^[a-z0-9-]+(\.[a-z0-9-]+)+$/, 'must be a lowercase domain name like "example.com"'))
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]'])

/** https, or plain http to loopback only (the local stand-ins): nothing on the network can answer for it. */
export function isProviderUrl(value: string): boolean {
  try {
    const url = new URL(value)
    if (url.username || url.password || url.hash) return false
    return url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname))
  } catch {
    return false
  }
}

const providerUrl = z.string().check(
  z.refine(isProviderUrl, {
    message: 'must be an https URL (http only for 127.0.0.1, localhost or [::1])',
  }),
)
const scopes = (fallback: string[]) => z._default(z.array(scope).check(z.maxLength(64)), fallback)

const common = {
  /** In the login and callback URLs: /auth/login/{name}, /auth/callback/{name}. */
  name: z
    .string()
    .check(
      z.regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'must be URL-safe: lowercase letters, digits, "_", "-" (max 32)'),
    ),
  display_name: z
    .string()
    .check(z.minLength(1), z.maxLength(64), z.regex(/^[^\p{Cc}]*$/u, 'must not contain control characters')),
  client_id: z.string().check(z.minLength(1), z.maxLength(512)),
  client_secret_secret: secretName,
  /** Only users whose verified email is in one of these domains may sign in (empty: any). */
  allowed_email_domains: z._default(z.array(domain).check(z.maxLength(256)), []),
  /** Roles of a user this provider creates; SETTINGS.default_roles when absent. */
  default_roles: z.optional(z.array(roleName)),
  /** Provider value (OIDC: a `roles_claim` value; GitHub: an organization login) → roles, at account creation. */
  role_map: z._default(z.record(z.string().check(z.minLength(1), z.maxLength(256)), z.array(roleName)), {}),
  /** First sign-in creates a local user. Off: only identities linked before may sign in. */
  registration: z._default(z.boolean(), false),
  /**
   * A first sign-in joins the local account whose address the gateway holds verified and equal to
   * the email the provider asserts as verified (never a username, never an unverified address).
   * Refused together with open registration (`loginProviderProblems`).
   */
  link_by_verified_email: z._default(z.boolean(), false),
}

export const oidcProviderSchema = z
  .strictObject({
    ...common,
    kind: z.literal('oidc'),
    /** The issuer identifier; its /.well-known/openid-configuration is fetched (discovery). */
    issuer: providerUrl,
    scopes: scopes(['openid', 'email', 'profile']),
    /** The ID token claim whose values `role_map` maps (e.g. "groups"). */
    roles_claim: z._default(z.string().check(z.minLength(1), z.maxLength(128)), 'groups'),
  })
  .check(
    z.refine((provider) => provider.scopes.includes('openid'), {
      message: 'must include "openid"',
      path: ['scopes'],
    }),
  )

export const GITHUB_DEFAULTS = {
  authorization_url: 'https://github.com/login/oauth/authorize',
  token_url: 'https://github.com/login/oauth/access_token',
  api_url: 'https://api.github.com',
} as const

export const githubProviderSchema = z
  .strictObject({
    ...common,
    kind: z.literal('github'),
    /** GitHub Enterprise Server: https://HOST/login/oauth/authorize, .../access_token, https://HOST/api/v3. */
    authorization_url: z._default(providerUrl, GITHUB_DEFAULTS.authorization_url),
    token_url: z._default(providerUrl, GITHUB_DEFAULTS.token_url),
    api_url: z._default(providerUrl, GITHUB_DEFAULTS.api_url),
    scopes: scopes(['read:user', 'user:email']),
    /** Only members of one of these organizations may sign in (needs scope read:org). */
    allowed_orgs: z._default(
      z.array(z.string().check(z.regex(/^[A-Za-z0-9-]{1,39}$/))).check(z.maxLength(256)),
      [],
    ),
  })
  .check(
    z.refine(
      (provider) =>
        (provider.allowed_orgs.length === 0 && Object.keys(provider.role_map).length === 0) ||
        provider.scopes.includes('read:org'),
      {
        message: 'must include "read:org" when allowed_orgs or role_map names organizations',
        path: ['scopes'],
      },
    ),
    z.refine((provider) => provider.scopes.includes('user:email') || provider.scopes.includes('user'), {
      message: 'must include "user:email" (the verified primary email is read from /user/emails)',
      path: ['scopes'],
    }),
  )

export const loginProviderSchema = z.discriminatedUnion('kind', [oidcProviderSchema, githubProviderSchema])
export const loginProvidersSchema = z.array(loginProviderSchema).check(z.maxLength(32))

export type OidcProviderConfig = z.output<typeof oidcProviderSchema>
export type GithubProviderConfig = z.output<typeof githubProviderSchema>
export type LoginProviderConfig = z.output<typeof loginProviderSchema>

/** Whether `POST /auth/register` is open, and which setting opened it (for the message). */
export interface RegistrationState {
  open: boolean
  /** `SETTINGS.registration = true` or `REGISTRATION = "on"`. */
  source: string
}

/**
 * Problems no single entry shows: duplicate names, and `link_by_verified_email` while anyone may
 * register. The option matches only addresses the gateway holds verified, but with open sign-up a
 * stranger can register with the owner's address and wait: the owner gets a verification mail,
 * and one "Confirm" pressed on it without reading makes the stranger's account hold the address
 * verified, so the owner's later provider sign-in would land in it (account pre-hijacking).
 * With sign-up closed, every account with an address was made by an operator or a provider.
 */
export function loginProviderProblems(
  providers: readonly LoginProviderConfig[],
  registration: RegistrationState,
): string[] {
  const seen = new Map<string, number>()
  const problems: string[] = []
  providers.forEach((provider, index) => {
    const earlier = seen.get(provider.name)
    if (earlier !== undefined)
      problems.push(
        `LOGIN_PROVIDERS[${index}].name: "${provider.name}" duplicates LOGIN_PROVIDERS[${earlier}]`,
      )
    else seen.set(provider.name, index)
    if (provider.link_by_verified_email && registration.open)
      problems.push(
        `LOGIN_PROVIDERS[${index}].link_by_verified_email: must be false while registration is open (${registration.source}): ` +
          'anyone could sign up with the owner\'s address, and one careless "Confirm" on the mail that triggers ' +
          "would give that account the owner's later sign-ins (account pre-hijacking); " +
          'users link providers from /auth/identities instead',
      )
  })
  return problems
}
