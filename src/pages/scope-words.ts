/**
 * What each scope lets an app do, in words a person can judge on the consent page. A scope the
 * operator added to `role_scopes` without a description here is shown as its name.
 */
const SCOPE_WORDS: Readonly<Record<string, string>> = {
  openid: 'Know who you are (your account id)',
  profile: 'See your username and roles',
  email: 'See your e-mail address',
  read: 'Read data through the API as you',
  write: 'Change data through the API as you',
  admin: 'Use your administrator rights on the API',
}

export function describeScope(scope: string): string {
  return Object.hasOwn(SCOPE_WORDS, scope) ? (SCOPE_WORDS[scope] as string) : scope
}
