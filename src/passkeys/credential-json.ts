/**
 * The JSON a browser sends for a credential (WebAuthn Level 3 §5.1.8 `toJSON()`: base64url
 * strings), checked for shape before any ceremony step; anything else is `malformed`.
 */
import * as z from 'zod/mini'
import '../config/zod-locale'
import { refuse } from './refusal'

// 12 KiB of base64url: an attestation object with an RSA key fits; the body cap is 16 KiB anyway.
const base64url = (max = 12_288) => z.string().check(z.regex(/^[A-Za-z0-9_-]+$/), z.maxLength(max))

export const AttestationCredential = z.looseObject({
  id: base64url(1_400),
  rawId: base64url(1_400),
  type: z.literal('public-key'),
  response: z.looseObject({
    clientDataJSON: base64url(),
    attestationObject: base64url(),
    transports: z.optional(z.array(z.string().check(z.regex(/^[a-z-]{1,32}$/))).check(z.maxLength(8))),
  }),
})
export type AttestationCredential = z.infer<typeof AttestationCredential>

export const AssertionCredential = z.looseObject({
  id: base64url(1_400),
  rawId: base64url(1_400),
  type: z.literal('public-key'),
  response: z.looseObject({
    clientDataJSON: base64url(),
    authenticatorData: base64url(),
    signature: base64url(2_048),
    userHandle: z.optional(z.nullable(z.union([z.literal(''), base64url(128)]))),
  }),
})
export type AssertionCredential = z.infer<typeof AssertionCredential>

/** `value` as the schema's type, or a `malformed` refusal. */
export function readCredential<T extends z.ZodMiniType>(schema: T, value: unknown): z.output<T> {
  const result = schema.safeParse(value)
  if (!result.success) refuse('malformed')
  return result.data
}
