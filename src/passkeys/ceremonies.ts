/**
 * The relying party's checks of the two WebAuthn ceremonies (WebAuthn Level 3 §7.1 registration,
 * §7.2 authentication). Parsing is @oslojs/webauthn's and @oslojs/cbor's; every decision is here:
 * the challenge (single use, this browser, this purpose), the type, the exact origin (ISSUER's),
 * the RP ID hash, user presence and user verification (required), and for an assertion the
 * signature, the owner's user handle and the counter.
 */
import { decodeCBORToNativeValueNoLeftoverBytes } from '@oslojs/cbor'
import {
  type AuthenticatorData,
  ClientDataType,
  createAssertionSignatureMessage,
  parseAuthenticatorData,
  parseClientDataJSON,
} from '@oslojs/webauthn'
import type { RelyingParty } from '../config/relying-party'
import { fromBase64Url, toBase64Url } from '../crypto/bytes'
import { consumeChallenge } from './challenges'
import type { AssertionCredential, AttestationCredential } from './credential-json'
import { importPublicKey, publicKeyFromCose, type StoredPublicKey, verifySignature } from './public-key'
import { refuse } from './refusal'

// Authenticator data flags (§6.1): byte 32, after the 32-byte RP ID hash. @oslojs/webauthn reads
// UP and UV; the backup flags come from the same byte.
const FLAGS_OFFSET = 32
const BACKUP_ELIGIBLE = 0x08
const BACKED_UP = 0x10

export interface CeremonyContext {
  db: D1Database
  rp: RelyingParty
  /** The browser's binding cookie value (challenges.ts). */
  binding: string | undefined
}

function bytesOf(base64url: string): Uint8Array {
  try {
    return fromBase64Url(base64url)
  } catch {
    refuse('malformed')
  }
}

function authenticatorData(bytes: Uint8Array): AuthenticatorData {
  if (bytes.length <= FLAGS_OFFSET) refuse('malformed')
  try {
    return parseAuthenticatorData(bytes)
  } catch {
    refuse('malformed')
  }
}

/** Client data: parsed, its challenge spent, then its type and exact origin checked. */
async function checkClientData(
  context: CeremonyContext,
  clientDataJSON: Uint8Array,
  expected: { type: ClientDataType; purpose: 'registration' | 'authentication'; userId?: string },
): Promise<void> {
  let clientData: ReturnType<typeof parseClientDataJSON>
  try {
    clientData = parseClientDataJSON(clientDataJSON)
  } catch {
    refuse('malformed')
  }
  // Spent first: whatever is wrong below, this challenge cannot be answered again.
  await consumeChallenge(context.db, {
    challenge: clientData.challenge,
    purpose: expected.purpose,
    binding: context.binding,
    userId: expected.userId,
  })
  if (clientData.type !== expected.type) refuse('wrong_type')
  if (clientData.origin !== context.rp.origin) refuse('wrong_origin')
  if (clientData.crossOrigin === true) refuse('cross_origin')
}

function checkAuthenticator(data: AuthenticatorData, rp: RelyingParty): void {
  if (!data.verifyRelyingPartyIdHash(rp.id)) refuse('wrong_rp_id')
  if (!data.userPresent) refuse('user_not_present')
  if (!data.userVerified) refuse('user_not_verified')
}

function backupFlags(raw: Uint8Array): { backupEligible: boolean; backedUp: boolean } {
  const flags = raw[FLAGS_OFFSET] ?? 0
  return { backupEligible: (flags & BACKUP_ELIGIBLE) !== 0, backedUp: (flags & BACKED_UP) !== 0 }
}

function uuidText(bytes: Uint8Array): string {
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`
}

export interface VerifiedRegistration {
  credentialId: string
  publicKey: StoredPublicKey
  signCount: number
  backedUp: boolean
  multiDevice: boolean
  aaguid: string
}

/**
 * §7.1 for the signed-in user `userId`. Attestation is not verified: the options ask for `none`
 * (the gateway trusts no authenticator vendor), so the statement is ignored and the AAGUID is only
 * informational.
 */
export async function verifyRegistration(
  context: CeremonyContext,
  userId: string,
  credential: AttestationCredential,
): Promise<VerifiedRegistration> {
  await checkClientData(context, bytesOf(credential.response.clientDataJSON), {
    type: ClientDataType.Create,
    purpose: 'registration',
    userId,
  })
  let decoded: unknown
  try {
    decoded = decodeCBORToNativeValueNoLeftoverBytes(bytesOf(credential.response.attestationObject), 4)
  } catch {
    refuse('malformed')
  }
  const rawAuthData = (decoded as { authData?: unknown } | null)?.authData
  if (!(rawAuthData instanceof Uint8Array)) refuse('malformed')
  const data = authenticatorData(rawAuthData)
  checkAuthenticator(data, context.rp)
  const attested = data.credential
  if (!attested) refuse('malformed')
  const credentialId = toBase64Url(attested.id)
  if (credentialId !== credential.rawId || credential.id !== credential.rawId)
    refuse('credential_id_mismatch')
  const publicKey = publicKeyFromCose(attested.publicKey)
  await importPublicKey(publicKey)
  const flags = backupFlags(rawAuthData)
  return {
    credentialId,
    publicKey,
    signCount: data.signatureCounter,
    backedUp: flags.backedUp,
    multiDevice: flags.backupEligible,
    aaguid: uuidText(attested.authenticatorAAGUID),
  }
}

/** What an assertion must be checked against: the stored passkey its credential id names. */
export interface StoredCredential {
  id: string
  userId: string
  publicKey: StoredPublicKey
  signCount: number
}

export interface VerifiedAssertion {
  signCount: number
  backedUp: boolean
}

/**
 * §7.2 with discoverable credentials: the user handle is required and must be the owner's (the
 * user id's UTF-8 bytes, as the registration options set it). The counter is checked as §7.2
 * step 21 says: when either the stored or the new counter is non-zero, the new one must be
 * greater, else the authenticator may have been cloned and the assertion is refused
 * (`cloned_counter`; the routes also audit `passkey_clone_suspected`).
 */
export async function verifyAssertion(
  context: CeremonyContext,
  credential: AssertionCredential,
  stored: StoredCredential,
): Promise<VerifiedAssertion> {
  const known = { passkeyId: stored.id, userId: stored.userId }
  const clientDataJSON = bytesOf(credential.response.clientDataJSON)
  await checkClientData(context, clientDataJSON, { type: ClientDataType.Get, purpose: 'authentication' })
  const rawAuthData = bytesOf(credential.response.authenticatorData)
  const data = authenticatorData(rawAuthData)
  checkAuthenticator(data, context.rp)
  const userHandle = credential.response.userHandle
  if (!userHandle || userHandle !== toBase64Url(new TextEncoder().encode(stored.userId)))
    refuse('user_handle_mismatch', known)
  const message = createAssertionSignatureMessage(rawAuthData, clientDataJSON)
  const signature = bytesOf(credential.response.signature)
  if (!(await verifySignature(stored.publicKey, message, signature))) refuse('bad_signature', known)
  const signCount = data.signatureCounter
  if ((signCount !== 0 || stored.signCount !== 0) && signCount <= stored.signCount)
    refuse('cloned_counter', known)
  return { signCount, backedUp: backupFlags(rawAuthData).backedUp }
}
