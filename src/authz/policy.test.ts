import { describe, expect, it } from 'vitest'
import { type AccessRule, type Decision, decide, type RoutePolicy, ruleFor } from './policy'
import type { Principal } from './principal'
import { buildRoleClosure } from './roles'

const closure = buildRoleClosure({ admin: ['editor'], editor: ['user'] })

function principal(roles: string[], scopes: string[]): Principal {
  return { method: 'jwt', id: 'user-1', username: 'alice', roles, scopes }
}

function rule(roles: string[] = [], scopes: string[] = []): AccessRule {
  return { access: 'authenticated', roles, scopes }
}

const ALLOW: Decision = { allow: true }
const forbidden = (roles: string[]): Decision => ({ allow: false, reason: 'forbidden', roles })
const insufficient = (scopes: string[]): Decision => ({ allow: false, reason: 'insufficient_scope', scopes })

describe('decide: roles are any-of after the hierarchy, scopes are all-of', () => {
  it.each<[string, AccessRule, Principal, Decision]>([
    ['no role or scope needed: any principal passes', rule(), principal([], []), ALLOW],
    ['admin inherits editor', rule(['editor']), principal(['admin'], []), ALLOW],
    ['admin inherits user through editor', rule(['user']), principal(['admin'], []), ALLOW],
    ['editor holds editor', rule(['editor']), principal(['editor'], []), ALLOW],
    ['a user is refused an editor route', rule(['editor']), principal(['user'], []), forbidden(['editor'])],
    ['an editor is refused an admin route', rule(['admin']), principal(['editor'], []), forbidden(['admin'])],
    ['no roles at all is refused a role route', rule(['user']), principal([], ['read']), forbidden(['user'])],
    ['any of several roles suffices', rule(['admin', 'auditor']), principal(['auditor'], []), ALLOW],
    [
      'a role outside the hierarchy is not a superset of anything',
      rule(['user']),
      principal(['auditor'], []),
      forbidden(['user']),
    ],
    ['the one scope needed is held', rule([], ['read']), principal([], ['read']), ALLOW],
    ['every scope needed is held', rule([], ['read', 'write']), principal([], ['write', 'read']), ALLOW],
    [
      'one of two needed scopes missing is refused, naming both',
      rule([], ['read', 'write']),
      principal([], ['read']),
      insufficient(['read', 'write']),
    ],
    ['no scopes at all', rule([], ['read']), principal(['admin'], []), insufficient(['read'])],
    [
      'a scope-prefix lookalike ("readonly") is not "read"',
      rule([], ['read']),
      principal([], ['readonly']),
      insufficient(['read']),
    ],
    [
      'scopes do not inherit through the role hierarchy at decision time',
      rule([], ['write']),
      principal(['admin'], ['read']),
      insufficient(['write']),
    ],
    [
      'the missing role is reported before the missing scope',
      rule(['admin'], ['write']),
      principal(['user'], []),
      forbidden(['admin']),
    ],
    [
      'role held but scope missing is a scope refusal',
      rule(['editor'], ['write']),
      principal(['admin'], ['read']),
      insufficient(['write']),
    ],
    ['role and scope both held', rule(['editor'], ['write']), principal(['editor'], ['write']), ALLOW],
  ])('%s', (_label, accessRule, caller, expected) => {
    expect(decide(accessRule, caller, closure)).toEqual(expected)
  })

  it('uses the configured hierarchy, not a built-in one', () => {
    const custom = buildRoleClosure({ owner: ['admin'] })
    expect(decide(rule(['admin']), principal(['owner'], []), custom)).toEqual(ALLOW)
    // Without admin > editor in this hierarchy, an admin is not an editor.
    expect(decide(rule(['editor']), principal(['admin'], []), custom)).toEqual(forbidden(['editor']))
  })
})

describe('ruleFor: per-method overrides', () => {
  const readWrite: RoutePolicy = {
    access: 'authenticated',
    roles: [],
    scopes: ['read'],
    method_rules: {
      POST: { scopes: ['write'] },
      PUT: { scopes: ['write'] },
      PATCH: { scopes: ['write'] },
      DELETE: { scopes: ['write'], roles: ['admin'] },
      OPTIONS: { access: 'public' },
    },
  }

  it.each<[string, string, AccessRule]>([
    ['GET falls back to the route rule', 'GET', { access: 'authenticated', roles: [], scopes: ['read'] }],
    ['HEAD follows GET', 'HEAD', { access: 'authenticated', roles: [], scopes: ['read'] }],
    ['POST needs write', 'POST', { access: 'authenticated', roles: [], scopes: ['write'] }],
    ['PUT needs write', 'PUT', { access: 'authenticated', roles: [], scopes: ['write'] }],
    ['PATCH needs write', 'PATCH', { access: 'authenticated', roles: [], scopes: ['write'] }],
    [
      'DELETE overrides roles and scopes',
      'DELETE',
      { access: 'authenticated', roles: ['admin'], scopes: ['write'] },
    ],
    ['OPTIONS overrides only access', 'OPTIONS', { access: 'public', roles: [], scopes: ['read'] }],
  ])('%s', (_label, method, expected) => {
    const { access, roles, scopes } = ruleFor(readWrite, method)
    expect({ access, roles, scopes }).toEqual(expected)
  })

  it('lets HEAD have its own rule instead of GET', () => {
    const policy: RoutePolicy = {
      ...readWrite,
      method_rules: { GET: { scopes: ['read'] }, HEAD: { access: 'public' } },
    }
    expect(ruleFor(policy, 'HEAD').access).toBe('public')
  })

  it('HEAD inherits a stricter GET rule: HEAD cannot bypass a GET-only restriction', () => {
    const policy: RoutePolicy = { ...readWrite, scopes: [], method_rules: { GET: { scopes: ['read'] } } }
    expect(decide(ruleFor(policy, 'HEAD'), principal([], []), closure)).toEqual(insufficient(['read']))
  })

  it('an override of scopes keeps the route roles (it does not erase them)', () => {
    const policy: RoutePolicy = {
      ...readWrite,
      roles: ['editor'],
      method_rules: { POST: { scopes: ['write'] } },
    }
    expect(ruleFor(policy, 'POST')).toEqual({ access: 'authenticated', roles: ['editor'], scopes: ['write'] })
  })

  it('a read-only caller passes GET and is refused every writing method', () => {
    const reader = principal(['user'], ['read'])
    expect(decide(ruleFor(readWrite, 'GET'), reader, closure)).toEqual(ALLOW)
    for (const method of ['POST', 'PUT', 'PATCH']) {
      expect(decide(ruleFor(readWrite, method), reader, closure)).toEqual(insufficient(['write']))
    }
    expect(decide(ruleFor(readWrite, 'DELETE'), reader, closure)).toEqual(forbidden(['admin']))
  })
})

describe('decide: any_of holds when one alternative holds (OpenAPI alternative security requirements)', () => {
  // security: [{oauth2: [items:read]}, {apiKey: []}] plus an admin-only alternative.
  const anyOf: AccessRule = {
    ...rule(),
    any_of: [
      { credentials: ['jwt'], scopes: ['items:read'] },
      { credentials: ['api_key'] },
      { credentials: ['session'], roles: ['admin'] },
    ],
  }
  const caller = (method: Principal['method'], roles: string[], scopes: string[]): Principal => ({
    ...principal(roles, scopes),
    method,
  })

  it.each<[string, Principal, Decision]>([
    ['a bearer token with the scope', caller('jwt', [], ['items:read']), ALLOW],
    ['an API key without any scope', caller('api_key', [], []), ALLOW],
    ['a session of an admin', caller('session', ['admin'], []), ALLOW],
    [
      'a bearer token without the scope is refused by its own alternative (scope)',
      caller('jwt', ['admin'], []),
      insufficient(['items:read']),
    ],
    ['a session of a user is refused for the role', caller('session', ['user'], []), forbidden(['admin'])],
    [
      'Basic, which no alternative takes, is refused naming the kinds that would do',
      caller('basic', ['admin'], ['items:read']),
      { allow: false, reason: 'wrong_credential', credentials: ['jwt', 'api_key', 'session'] },
    ],
  ])('%s', (_label, who, expected) => {
    expect(decide(anyOf, who, closure)).toEqual(expected)
  })

  it('still applies the rule-wide roles to every alternative', () => {
    const both: AccessRule = { ...anyOf, roles: ['editor'] }
    expect(decide(both, caller('api_key', ['user'], []), closure)).toEqual(forbidden(['editor']))
  })

  it('is overridden per method like roles and scopes', () => {
    const policy: RoutePolicy = { ...anyOf, method_rules: { DELETE: { any_of: [{ roles: ['admin'] }] } } }
    expect(decide(ruleFor(policy, 'DELETE'), caller('api_key', ['user'], []), closure)).toEqual(
      forbidden(['admin']),
    )
    expect(decide(ruleFor(policy, 'GET'), caller('api_key', ['user'], []), closure)).toEqual(ALLOW)
  })
})

describe('decide: delegated = "deny" refuses tokens issued to apps, and only those', () => {
  const denyApps: AccessRule = { ...rule(['user'], ['read']), delegated: 'deny' }
  const delegated: Principal = { ...principal(['admin'], ['read']), clientId: 'photo-app' }
  const refused: Decision = { allow: false, reason: 'delegated', clientId: 'photo-app' }

  it.each<[string, AccessRule, Principal, Decision]>([
    ['a delegated token with every role and scope needed is refused', denyApps, delegated, refused],
    [
      'the delegated refusal comes before a missing scope (no other token of the app would do)',
      denyApps,
      { ...delegated, scopes: [] },
      refused,
    ],
    ['a first-party token of a client passes', denyApps, { ...delegated, firstParty: true }, ALLOW],
    ['a token without a client (the password grant) passes', denyApps, principal(['user'], ['read']), ALLOW],
    ['an API key passes', denyApps, { ...delegated, method: 'api_key' }, ALLOW],
    ['a browser session passes', denyApps, { ...delegated, method: 'session', firstParty: true }, ALLOW],
    ['the default (absent) lets a delegated token in', rule(['user'], ['read']), delegated, ALLOW],
    ['"allow" lets a delegated token in', { ...denyApps, delegated: 'allow' }, delegated, ALLOW],
  ])('%s', (_label, accessRule, caller, expected) => {
    expect(decide(accessRule, caller, closure)).toEqual(expected)
  })

  it('holds for every method: a method rule keeps the route field', () => {
    const policy: RoutePolicy = {
      ...denyApps,
      method_rules: { DELETE: { roles: ['admin'] }, OPTIONS: { scopes: [] } },
    }
    for (const method of ['GET', 'HEAD', 'DELETE', 'OPTIONS'])
      expect(decide(ruleFor(policy, method), delegated, closure), method).toEqual(refused)
  })
})
