import { describe, expect, it } from 'vitest'
import { buildRoleClosure, effectiveRoles } from './roles'

const DEFAULT_HIERARCHY = { admin: ['editor'], editor: ['user'] }

function held(roles: string[], hierarchy: Record<string, string[]> = DEFAULT_HIERARCHY): string[] {
  return [...effectiveRoles(roles, buildRoleClosure(hierarchy))].sort()
}

describe('the default hierarchy admin > editor > user', () => {
  it.each([
    [['admin'], ['admin', 'editor', 'user']],
    [['editor'], ['editor', 'user']],
    [['user'], ['user']],
    [
      ['editor', 'user'],
      ['editor', 'user'],
    ],
    [[], []],
  ])('%j effectively holds %j', (roles, expected) => {
    expect(held(roles)).toEqual(expected)
  })

  it('never inherits upward: a user is not an editor and an editor is not an admin', () => {
    expect(held(['user'])).not.toContain('editor')
    expect(held(['editor'])).not.toContain('admin')
  })

  it('gives a role outside the hierarchy only itself', () => {
    expect(held(['auditor'])).toEqual(['auditor'])
    expect(held(['auditor', 'editor'])).toEqual(['auditor', 'editor', 'user'])
  })
})

describe('a configured hierarchy', () => {
  it('is transitive over any depth', () => {
    const hierarchy = { owner: ['admin'], admin: ['editor'], editor: ['user'], user: ['guest'] }
    expect(held(['owner'], hierarchy)).toEqual(['admin', 'editor', 'guest', 'owner', 'user'])
  })

  it('unions several children (a diamond) without duplicates', () => {
    const hierarchy = { lead: ['billing', 'support'], billing: ['user'], support: ['user'] }
    expect(held(['lead'], hierarchy)).toEqual(['billing', 'lead', 'support', 'user'])
    expect(held(['billing'], hierarchy)).toEqual(['billing', 'user'])
  })

  it('does not let a sibling inherit from a sibling', () => {
    const hierarchy = { billing: ['user'], support: ['user'] }
    expect(held(['billing'], hierarchy)).not.toContain('support')
  })

  it('terminates on a cycle and gives every member of the cycle every other member', () => {
    const hierarchy = { a: ['b'], b: ['c'], c: ['a'] }
    for (const role of ['a', 'b', 'c']) expect(held([role], hierarchy)).toEqual(['a', 'b', 'c'])
  })

  it('is empty when configured empty: no role inherits anything', () => {
    expect(held(['admin'], {})).toEqual(['admin'])
  })
})

describe('role names that collide with Object.prototype members', () => {
  it('a child role named "constructor" is a plain role, not a crash', () => {
    expect(held(['admin'], { admin: ['constructor'] })).toEqual(['admin', 'constructor'])
  })
})
