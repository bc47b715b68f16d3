/**
 * Password rules of NIST SP 800-63B §5.1.1.2 (memorized secrets): a length range, every Unicode
 * character allowed (spaces and emoji included), no composition rules, and a blocklist of
 * commonly used passwords and context-specific words (here: the username).
 */
import { COMMON_PASSWORDS } from './common-passwords.generated'
import { decodeFrontCoded } from './front-coding'

export const MIN_PASSWORD_CODE_POINTS = 8 // 800-63B: at least 8 characters when chosen by the user
export const MAX_PASSWORD_CODE_POINTS = 128 // 800-63B asks to permit at least 64; PBKDF2 cost is flat
// Checked on the raw string before normalize(), so a megabyte body costs nothing. NFC composes
// at most four code points into one (the longest canonical decomposition, e.g. U+1F85), and a code
// point is at most two UTF-16 units, so nothing longer can shrink to 128 code points.
const MAX_RAW_LENGTH = MAX_PASSWORD_CODE_POINTS * 4 * 2
// With the u flag this matches only unpaired surrogates, which TextEncoder would turn into U+FFFD,
// making distinct passwords hash alike.
const LONE_SURROGATE = /\p{Cs}/u

export type PasswordPolicyFailure =
  | 'too_short'
  | 'too_long'
  | 'invalid_characters'
  | 'common'
  | 'matches_username'

export type PasswordCheck = { ok: true } | { ok: false; reason: PasswordPolicyFailure; message: string }

export interface PasswordContext {
  username?: string
}

/** `message` is safe to show to the user: it never repeats the password. */
export function checkPassword(password: string, context: PasswordContext = {}): PasswordCheck {
  if (password.length > MAX_RAW_LENGTH) return tooLong()
  const normalized = password.normalize('NFC')
  if (LONE_SURROGATE.test(normalized)) {
    return reject('invalid_characters', 'Password contains invalid Unicode (an unpaired surrogate).')
  }
  const length = countCodePoints(normalized)
  if (length < MIN_PASSWORD_CODE_POINTS) {
    return reject('too_short', `Password must be at least ${MIN_PASSWORD_CODE_POINTS} characters.`)
  }
  if (length > MAX_PASSWORD_CODE_POINTS) return tooLong()
  const folded = normalized.toLowerCase()
  if (context.username !== undefined && folded === context.username.normalize('NFC').toLowerCase()) {
    return reject('matches_username', 'Password must not be the username.')
  }
  if (commonPasswordSet().has(folded)) {
    return reject('common', 'Password is too common; choose another.')
  }
  return { ok: true }
}

// The list is bundled as front-coded text (scripts/build-common-passwords.ts); it is decoded into
// the Set on first use rather than at isolate startup, which Workers limit to 1 s.
let common: Set<string> | undefined
function commonPasswordSet(): Set<string> {
  common ??= new Set(decodeFrontCoded(COMMON_PASSWORDS))
  return common
}

function countCodePoints(text: string): number {
  let count = 0
  for (const _ of text) count++
  return count
}

function tooLong(): PasswordCheck {
  return reject('too_long', `Password must be at most ${MAX_PASSWORD_CODE_POINTS} characters.`)
}

function reject(reason: PasswordPolicyFailure, message: string): PasswordCheck {
  return { ok: false, reason, message }
}
