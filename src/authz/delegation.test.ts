import { describe, expect, it } from 'vitest'
import { clientTokenRoles, delegatedRoles, rolesToConsent } from './delegation'
import { buildRoleClosure } from './roles'

const closure = buildRoleClosure({ admin: ['editor'], editor: ['user'] })

describe('delegatedRoles', () => {
  it('gives an app with no allowed roles no role, whatever the user holds', () => {
    expect(delegatedRoles(['admin'], [], closure)).toEqual([])
  })

  it('caps an admin at what the app may act as (with the roles that role includes)', () => {
    expect(delegatedRoles(['admin'], ['editor'], closure)).toEqual(['editor', 'user'])
  })

  it('never gives a user a role they do not hold because the app may act as it', () => {
    expect(delegatedRoles(['user'], ['admin'], closure)).toEqual(['user'])
    expect(delegatedRoles([], ['admin'], closure)).toEqual([])
  })

  it('keeps roles outside the hierarchy only when both sides name them', () => {
    expect(delegatedRoles(['billing', 'user'], ['billing'], closure)).toEqual(['billing'])
    expect(delegatedRoles(['billing'], ['support'], closure)).toEqual([])
  })
})

describe('clientTokenRoles', () => {
  const app = { firstParty: false, allowedRoles: ['editor'] }

  it('gives a first-party client the user roles as they are', () => {
    expect(clientTokenRoles({ firstParty: true, allowedRoles: [] }, ['admin'], [], closure)).toEqual([
      'admin',
    ])
  })

  it('caps a delegated token by what the user approved as well as by the client', () => {
    expect(clientTokenRoles(app, ['admin'], ['editor', 'user'], closure)).toEqual(['editor', 'user'])
    expect(clientTokenRoles(app, ['admin'], ['user'], closure)).toEqual(['user'])
    expect(clientTokenRoles(app, ['admin'], [], closure)).toEqual([])
  })

  it('does not follow an operator who widens allowed_roles after the consent', () => {
    const widened = { firstParty: false, allowedRoles: ['admin'] }
    expect(clientTokenRoles(widened, ['admin'], ['editor', 'user'], closure)).toEqual(['editor', 'user'])
  })
})

describe('rolesToConsent', () => {
  it('names the roles a delegated token would act with, and none for a first-party client', () => {
    expect(rolesToConsent({ firstParty: false, allowedRoles: ['editor'] }, ['admin'], closure)).toEqual([
      'editor',
      'user',
    ])
    expect(rolesToConsent({ firstParty: true, allowedRoles: ['editor'] }, ['admin'], closure)).toEqual([])
  })
})
