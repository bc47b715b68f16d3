import { describe, expect, it } from 'vitest'
import { decodeFrontCoded, encodeFrontCoded } from './front-coding'

describe('front coding of the common-password list', () => {
  it('round-trips words sharing more than nine characters (the one-digit cap)', () => {
    const words = ['password', 'password1', 'password123', 'password1234', 'passwordpassword', 'qwerty12']
    const text = encodeFrontCoded(words)
    expect(text.split('\n')[3]).toBe('9234') // password1234 after password123: capped at nine
    expect(decodeFrontCoded(text)).toEqual([...words].sort())
  })

  it('sorts, drops duplicates and keeps surrogate pairs whole', () => {
    // The nine-character cap falls inside the dragon; the crocodile shares only its high surrogate.
    const words = ['aaaaaaaa🐉1', 'aaaaaaaa🐉2', '🐉x', '🐊x', '🐉x', 'a`b\\c']
    const text = encodeFrontCoded(words)
    for (const line of text.split('\n')) expect(line).not.toMatch(/\p{Cs}/u)
    expect(decodeFrontCoded(text)).toEqual(['a`b\\c', 'aaaaaaaa🐉1', 'aaaaaaaa🐉2', '🐉x', '🐊x'])
  })

  it('refuses a word it could not store on one line', () => {
    expect(() => encodeFrontCoded(['two\nlines'])).toThrow()
    expect(() => encodeFrontCoded([''])).toThrow()
  })
})
