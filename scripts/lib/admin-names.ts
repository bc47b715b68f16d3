/**
 * Input rules of the admin CLI. They match what the Worker accepts, so the CLI cannot create a
 * user the Worker would refuse at registration or a role the route table could not name.
 */

import type { GrantType } from '../../src/oauth/client-store'
import { USERNAME, USERNAME_RULE } from '../../src/users/username'

export { USERNAME, USERNAME_RULE }

// Same rule as role and scope names in src/config/schema.ts.
export const NAME = /^[a-z][a-z0-9_:.-]{0,63}$/
// client-auth.ts accepts 1..128 characters; the CLI keeps ids to characters that need no
// escaping in a Basic header, a URL or a log line.
export const CLIENT_ID = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/
export const GRANT_TYPES: readonly GrantType[] = [
  'password',
  'refresh_token',
  'client_credentials',
  'authorization_code',
]
const MAX_CLIENT_NAME = 200

export function assertUsername(username: string): string {
  if (!USERNAME.test(username)) throw new Error(USERNAME_RULE)
  return username
}

/** Roles or scopes: lowercase names, deduplicated, order kept. */
export function assertNames(values: readonly string[], kind: 'role' | 'scope'): string[] {
  for (const value of values) {
    if (!NAME.test(value)) {
      throw new Error(
        `${kind} ${JSON.stringify(value.slice(0, 70))} is not a lowercase name ([a-z][a-z0-9_:.-]*)`,
      )
    }
  }
  return [...new Set(values)]
}

export function assertClientId(clientId: string): string {
  if (!CLIENT_ID.test(clientId)) {
    throw new Error('a client id must be 1-128 letters, digits or . _ : @ - characters')
  }
  return clientId
}

export function assertGrantTypes(values: readonly string[]): GrantType[] {
  for (const value of values) {
    if (!(GRANT_TYPES as readonly string[]).includes(value)) {
      throw new Error(
        `unknown grant ${JSON.stringify(value.slice(0, 40))} (one of: ${GRANT_TYPES.join(', ')})`,
      )
    }
  }
  return [...new Set(values)] as GrantType[]
}

/** A display name: free text, but one line and bounded. Quoting in admin-sql.ts makes it safe SQL. */
export function assertClientName(name: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (name.length > MAX_CLIENT_NAME || /[\u0000-\u001f\u007f]/.test(name)) {
    throw new Error(`a client name must be one line of at most ${MAX_CLIENT_NAME} characters`)
  }
  return name
}
