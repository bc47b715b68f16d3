/**
 * GitHub has no ID token: who signed in is read from its REST API with the access token, which is
 * used for these calls only and never stored. The subject is the numeric user id (a login can be
 * renamed and then taken by someone else); the email is the primary one, and only if GitHub says
 * it is verified. Endpoints follow api_url, so GitHub Enterprise Server works the same.
 */
import type { GithubProviderConfig } from '../config/login-providers'
import { ProviderLoginFailure } from './failure'
import { PROVIDER_TIMEOUT_MS } from './metadata'
import type { ExternalProfile } from './profile'

interface GithubUser {
  id: number
  login: string
  name?: string | null
}

interface GithubEmail {
  email: string
  primary: boolean
  verified: boolean
}

async function api<T>(provider: GithubProviderConfig, token: string, path: string): Promise<T> {
  const url = `${provider.api_url.replace(/\/$/, '')}${path}`
  let response: Response
  try {
    response = await fetch(url, {
      headers: {
        authorization: `Bearer ${token}`,
        accept: 'application/vnd.github+json',
        'x-github-api-version': '2022-11-28',
        // GitHub refuses API requests without a User-Agent.
        'user-agent': 'edge-auth-gateway',
      },
      // Workers have no redirect: 'error'; a 3xx is then just not ok below.
      redirect: 'manual',
      signal: AbortSignal.timeout(PROVIDER_TIMEOUT_MS),
    })
  } catch (error) {
    throw new ProviderLoginFailure('provider_unavailable', `GitHub API ${path} unreachable`, error)
  }
  if (!response.ok) {
    await response.body?.cancel()
    throw new ProviderLoginFailure('provider_unavailable', `GitHub API ${path} answered ${response.status}`)
  }
  try {
    return (await response.json()) as T
  } catch (error) {
    throw new ProviderLoginFailure('invalid_response', `GitHub API ${path} sent no JSON`, error)
  }
}

function needsOrgs(provider: GithubProviderConfig): boolean {
  return provider.allowed_orgs.length > 0 || Object.keys(provider.role_map).length > 0
}

export async function githubProfile(provider: GithubProviderConfig, token: string): Promise<ExternalProfile> {
  const user = await api<GithubUser>(provider, token, '/user')
  if (typeof user?.id !== 'number' || typeof user.login !== 'string')
    throw new ProviderLoginFailure('invalid_response', 'GitHub /user without id or login')
  const emails = await api<GithubEmail[]>(provider, token, '/user/emails')
  const primary = Array.isArray(emails) ? emails.find((entry) => entry?.primary === true) : undefined
  const orgs = needsOrgs(provider) ? await api<{ login: string }[]>(provider, token, '/user/orgs') : []
  return {
    subject: String(user.id),
    email: typeof primary?.email === 'string' ? primary.email : null,
    emailVerified: primary?.verified === true,
    usernameHint: user.login,
    display: user.login,
    groups: Array.isArray(orgs)
      ? orgs.map((org) => org?.login).filter((login): login is string => typeof login === 'string')
      : [],
  }
}
