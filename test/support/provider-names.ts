/** Shared by global-setup-providers.ts (Node) and the workerd tests. */

/** The GitHub tests' provider names: the stand-in registers exactly these callback URLs. */
export const GITHUB_TEST_PROVIDERS = [
  'gh',
  'gh-orgs',
  'gh-link',
  'gh-closed',
  'gh-join',
  'gh-new-email',
] as const
export const GITHUB_TEST_CLIENT = { clientId: 'gateway-test', clientSecret: 'gateway-test-secret' }
export const TEST_GATEWAY = 'http://gateway.test'
