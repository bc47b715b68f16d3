import { describe, expect, it } from 'vitest'
import { buildRoleClosure } from '../authz/roles'
import { GatewayError } from '../errors/gateway-error'
import { actingRoles, parseKeyRoles } from './key-roles'

const closure = buildRoleClosure({ admin: ['editor'], editor: ['user'] })

describe('parseKeyRoles: a key gets only roles its owner holds', () => {
  it('absent roles mean "the owner\'s roles" (undefined)', () => {
    expect(parseKeyRoles(undefined, ['admin'], closure)).toBeUndefined()
    expect(parseKeyRoles(null, ['admin'], closure)).toBeUndefined()
  })

  it('accepts roles held directly or through the hierarchy, sorted and deduplicated', () => {
    expect(parseKeyRoles(['user', 'editor', 'user'], ['admin'], closure)).toEqual(['editor', 'user'])
    expect(parseKeyRoles([], ['user'], closure)).toEqual([])
  })

  it.each([
    ['a role above the owner', ['user'], ['editor']],
    ['admin for an editor', ['editor'], ['admin']],
    ['a role outside the hierarchy the owner lacks', ['admin'], ['billing']],
    ['a non-array', ['admin'], 'user'],
    ['a malformed name', ['admin'], ['User']],
    ['a prototype key', ['user'], ['constructor']],
  ])('refuses %s with 400 invalid_request', (_label, owner, requested) => {
    expect(() => parseKeyRoles(requested, owner, closure)).toThrow(GatewayError)
  })
})

describe("actingRoles: the key's roles, capped by the owner's current roles", () => {
  it("without roles of its own, the key acts with the owner's roles", () => {
    expect(actingRoles(['admin'], null, closure)).toEqual(['admin'])
  })

  it('keeps key roles the owner still holds and drops the rest after a demotion', () => {
    expect(actingRoles(['admin'], ['user'], closure)).toEqual(['user'])
    expect(actingRoles(['user'], ['admin', 'user'], closure)).toEqual(['user'])
    expect(actingRoles([], ['user'], closure)).toEqual([])
  })
})
