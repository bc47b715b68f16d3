import { describe, expect, it } from 'vitest'
import { hasDuplicateKeys } from './json-rpc'

describe('hasDuplicateKeys', () => {
  it.each([
    ['{"a":1,"a":2}', true],
    ['{"a":1,"\\u0061":2}', true],
    ['{"p":{"name":"echo","name":"delete_order"}}', true],
    ['[{"a":1},{"a":1}]', false],
    ['{"a":{"a":1},"b":[{"a":2}]}', false],
    ['{"a":"\\"a\\":1,\\"a\\":2","b":1}', false],
    ['{"a":[1,{"b":1}],"b":2}', false],
    ['{"a":[1,{"b":1}],"a":2}', true],
    ['{}', false],
  ])('%s → %s', (text, expected) => {
    JSON.parse(text) // every case is valid JSON: the scan runs only after a successful parse
    expect(hasDuplicateKeys(text)).toBe(expected)
  })
})
