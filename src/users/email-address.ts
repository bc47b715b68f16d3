/**
 * Email addresses as the gateway stores and compares them: trimmed, the domain lowercased (domains
 * are case-insensitive, RFC 5321 §2.4), the local part kept as typed. Uniqueness in D1 is
 * case-insensitive on the whole address (migration 0018), so `Ann@x` and `ann@x` are one address.
 */

/** Deliberately plain: one `@`, no spaces or angle brackets, a dotted domain. The mail proves the rest. */
const ADDRESS =
  /^[^\s@<>"(),;:\\[\]]{1,64}@[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?)+$/

export const MAX_EMAIL_LENGTH = 254

/** The normalized address, or undefined when `value` is not one we accept. */
export function normalizeEmail(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined
  const trimmed = value.trim()
  const at = trimmed.lastIndexOf('@')
  if (at < 1 || trimmed.length > MAX_EMAIL_LENGTH) return undefined
  const email = `${trimmed.slice(0, at)}@${trimmed.slice(at + 1).toLowerCase()}`
  return ADDRESS.test(email) ? email : undefined
}
