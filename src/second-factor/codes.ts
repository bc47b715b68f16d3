/**
 * What a user types at the second step, checked before anything is looked up: a TOTP code (six
 * digits; spaces allowed, as apps show "123 456") or a recovery code (ten letters and digits,
 * shown as "abcde-fghij"; case, spaces and dashes ignored). Anything else is a 400, never a guess
 * that counts or a 500.
 *
 * Recovery codes: ten per user, 50 random bits each (base32, no look-alike confusion worth a
 * custom alphabet), stored as SHA-256: a fast hash is enough for 50 random bits behind the
 * attempt throttle, as for API keys.
 */
import { encodeBase32NoPadding } from '@oslojs/encoding'
import { randomBytes, sha256Hex } from '../crypto/bytes'
import { GatewayError } from '../errors/gateway-error'
import { TOTP_DIGITS } from './totp'

export const RECOVERY_CODE_COUNT = 10
const RECOVERY_CODE_LENGTH = 10
/** Longer input is refused before it is normalized (a pasted page, a script's junk). */
const MAX_INPUT = 64

const SEPARATORS = /[\s-]/g
const TOTP_CODE = new RegExp(`^\\d{${TOTP_DIGITS}}$`)
const RECOVERY_CODE = new RegExp(`^[a-z2-7]{${RECOVERY_CODE_LENGTH}}$`)

function badInput(description: string): GatewayError {
  return new GatewayError('invalid_request', description)
}

/** The six digits of a TOTP code, or 400 `invalid_request`. */
export function parseTotpCode(input: string): string {
  const code = input.length <= MAX_INPUT ? input.replace(SEPARATORS, '') : ''
  if (!TOTP_CODE.test(code)) throw badInput(`Enter the ${TOTP_DIGITS} digits your authenticator app shows.`)
  return code
}

/** A recovery code in its stored form (lowercase, no separators), or 400 `invalid_request`. */
export function parseRecoveryCode(input: string): string {
  const code = input.length <= MAX_INPUT ? input.replace(SEPARATORS, '').toLowerCase() : ''
  if (!RECOVERY_CODE.test(code))
    throw badInput('Enter one of your recovery codes as it was shown (ten letters and digits).')
  return code
}

/** Ten new recovery codes as shown to the user ("abcde-fghij"). */
export function newRecoveryCodes(): string[] {
  return Array.from({ length: RECOVERY_CODE_COUNT }, () => {
    // 7 bytes = 56 bits → 12 base32 characters, cut to 10 (50 bits).
    const text = encodeBase32NoPadding(randomBytes(7)).slice(0, RECOVERY_CODE_LENGTH).toLowerCase()
    return `${text.slice(0, 5)}-${text.slice(5)}`
  })
}

/** What the table keeps of a code (in either form: shown or parsed). */
export function recoveryCodeHash(code: string): Promise<string> {
  return sha256Hex(code.replace(SEPARATORS, '').toLowerCase())
}
