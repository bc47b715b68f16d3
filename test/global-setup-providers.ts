import type { TestProject } from 'vitest/node'
import { startGithubStandIn } from '../scripts/lib/github-stand-in'
import { startOidcTestProvider } from './support/oidc-test-provider'
import { GITHUB_TEST_CLIENT, GITHUB_TEST_PROVIDERS, TEST_GATEWAY } from './support/provider-names'

// Login providers on loopback for the workerd tests: a scriptable OpenID Connect provider and the
// GitHub stand-in `npm start` uses (with test control of its users).
export default async function setup(project: TestProject) {
  const oidc = await startOidcTestProvider()
  const github = await startGithubStandIn({
    ...GITHUB_TEST_CLIENT,
    redirectUris: GITHUB_TEST_PROVIDERS.map((name) => `${TEST_GATEWAY}/auth/callback/${name}`),
    users: [],
    control: true,
  })
  project.provide('oidcTestOrigin', oidc.origin)
  project.provide('githubStandInOrigin', github.origin)
  return async () => {
    await Promise.all([oidc.close(), github.close()])
  }
}

declare module 'vitest' {
  export interface ProvidedContext {
    oidcTestOrigin: string
    githubStandInOrigin: string
  }
}
