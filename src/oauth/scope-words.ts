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

/** A role an app would act with, in words: the user's own power, lent to the app. */
export function describeRole(role: string): string {
  return `Act as ${role} on your behalf, with the rights that role gives you`
}

export function describeScope(scope: string): string {
  return Object.hasOwn(SCOPE_WORDS, scope) ? (SCOPE_WORDS[scope] as string) : scope
}
