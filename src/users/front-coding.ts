/**
 * Front coding of a sorted word list, the compact form of the bundled common-password list
 * (common-passwords.ts): one line per word, a digit 0-9 saying how many leading characters it
 * shares with the previous word, then the rest of it. Sorted passwords share long prefixes
 * ("password1", "password12"), so this gzips to about 60% of the same list as JSON.
 */

const MAX_SHARED = 9 // one digit

/** Decodes `encodeFrontCoded`'s text; one pass, no regular expressions. */
export function decodeFrontCoded(text: string): string[] {
  const words: string[] = []
  let previous = ''
  for (const line of text.split('\n')) {
    if (line === '') continue
    previous = previous.slice(0, line.charCodeAt(0) - 48) + line.slice(1)
    words.push(previous)
  }
  return words
}

function sharedPrefix(a: string, b: string): number {
  let shared = 0
  while (shared < MAX_SHARED && shared < a.length && a[shared] === b[shared]) shared++
  // Never split a surrogate pair: the rest of the line would start with a lone surrogate.
  const last = a.charCodeAt(shared - 1)
  return shared > 0 && last >= 0xd800 && last <= 0xdbff ? shared - 1 : shared
}

/** For scripts/build-common-passwords.ts: sorts the words and front-codes them. */
export function encodeFrontCoded(words: Iterable<string>): string {
  let previous = ''
  let out = ''
  for (const word of [...new Set(words)].sort()) {
    if (word === '' || /[\r\n]/.test(word)) throw new Error('front coding needs non-empty, single-line words')
    const shared = sharedPrefix(previous, word)
    out += `${shared}${word.slice(shared)}\n`
    previous = word
  }
  return out
}
