/**
 * Passkeys of a user: the two ceremonies' options and results, and list, rename, delete. Storage
 * comes in as arguments (D1), so the CLI or another Worker can reuse it; HTTP is in the routes.
 */
import type { RelyingParty } from '../config/relying-party'
import { toBase64Url } from '../crypto/bytes'
import { uuidv7 } from '../crypto/uuid7'
import { withStorage } from '../db/errors'
import { nowSeconds, parseStringList } from '../db/json'
import { type CeremonyContext, verifyAssertion, verifyRegistration } from './ceremonies'
import { CHALLENGE_TTL_SECONDS, issueChallenge } from './challenges'
import type { AssertionCredential, AttestationCredential } from './credential-json'
import { ACCEPTED_ALGORITHMS } from './public-key'
import { refuse } from './refusal'
import {
  deleteUserPasskey,
  findPasskeyByCredentialId,
  insertPasskey,
  listUserPasskeys,
  type PasskeyRow,
  recordPasskeyUse,
  renameUserPasskey,
} from './store'

const TIMEOUT_MS = CHALLENGE_TTL_SECONDS * 1000
export const MAX_NAME_LENGTH = 64

/** A passkey as the API and the page show it: never its public key. */
export interface PasskeyView {
  id: string
  name: string
  created_at: number
  last_used_at: number | null
  device_type: 'single_device' | 'multi_device'
  backed_up: boolean
  transports: string[]
  aaguid: string
}

export function viewPasskey(row: PasskeyRow): PasskeyView {
  return {
    id: row.id,
    name: row.name,
    created_at: row.created_at,
    last_used_at: row.last_used_at,
    device_type: row.device_type,
    backed_up: row.backed_up === 1,
    transports: parseStringList(row.transports),
    aaguid: row.aaguid,
  }
}

/**
 * The user handle of a user's passkeys: the UTF-8 bytes of the user id (a UUID: no personal data,
 * WebAuthn §14.6.1), base64url as the options JSON carries it. An assertion's handle must equal it.
 */
export function userHandleOf(userId: string): string {
  return toBase64Url(new TextEncoder().encode(userId))
}

/** A name as stored: control characters removed, trimmed, at most 64 characters; empty → undefined. */
export function cleanName(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined
  const name = value
    .replace(/\p{Cc}/gu, '')
    .trim()
    .slice(0, MAX_NAME_LENGTH)
  return name === '' ? undefined : name
}

export async function listPasskeys(db: D1Database, userId: string): Promise<PasskeyView[]> {
  const rows = await withStorage('list passkeys', () => listUserPasskeys(db, userId))
  return rows.map(viewPasskey)
}

export interface RegistrationOptionsInput {
  rp: RelyingParty
  productName: string
  user: { id: string; username: string }
  binding: string
}

/** PublicKeyCredentialCreationOptionsJSON (§5.4) for a discoverable, user-verified passkey. */
export async function registrationOptions(db: D1Database, input: RegistrationOptionsInput) {
  const existing = await withStorage('list passkeys', () => listUserPasskeys(db, input.user.id))
  const challenge = await issueChallenge(db, {
    purpose: 'registration',
    userId: input.user.id,
    binding: input.binding,
  })
  return {
    challenge,
    rp: { id: input.rp.id, name: input.productName },
    user: { id: userHandleOf(input.user.id), name: input.user.username, displayName: input.user.username },
    pubKeyCredParams: ACCEPTED_ALGORITHMS.map((alg) => ({ type: 'public-key', alg })),
    timeout: TIMEOUT_MS,
    // The same authenticator twice would be two rows for one key: the browser refuses it up front.
    excludeCredentials: existing.map((row) => ({
      type: 'public-key',
      id: row.credential_id,
      transports: parseStringList(row.transports),
    })),
    authenticatorSelection: {
      residentKey: 'required',
      requireResidentKey: true,
      userVerification: 'required',
    },
    attestation: 'none',
  }
}

export interface FinishRegistrationInput {
  context: CeremonyContext
  userId: string
  name: string
  credential: AttestationCredential
}

export async function finishRegistration(input: FinishRegistrationInput): Promise<PasskeyView> {
  const verified = await verifyRegistration(input.context, input.userId, input.credential)
  const row: PasskeyRow = {
    id: uuidv7(),
    user_id: input.userId,
    credential_id: verified.credentialId,
    public_key: JSON.stringify(verified.publicKey.jwk),
    algorithm: verified.publicKey.algorithm,
    sign_count: verified.signCount,
    transports: JSON.stringify(input.credential.response.transports ?? []),
    backed_up: verified.backedUp ? 1 : 0,
    device_type: verified.multiDevice ? 'multi_device' : 'single_device',
    aaguid: verified.aaguid,
    name: input.name,
    created_at: nowSeconds(),
    last_used_at: null,
  }
  const inserted = await withStorage('store passkey', () => insertPasskey(input.context.db, row))
  if (!inserted) refuse('credential_taken')
  return viewPasskey(row)
}

/** PublicKeyCredentialRequestOptionsJSON (§5.5): no allowCredentials, the authenticator offers its passkeys. */
export async function authenticationOptions(db: D1Database, input: { rp: RelyingParty; binding: string }) {
  const challenge = await issueChallenge(db, {
    purpose: 'authentication',
    userId: null,
    binding: input.binding,
  })
  return {
    challenge,
    rpId: input.rp.id,
    timeout: TIMEOUT_MS,
    userVerification: 'required',
    allowCredentials: [],
  }
}

export interface SignedInWithPasskey {
  userId: string
  passkeyId: string
  backedUp: boolean
}

/** §7.2 against the stored passkey the assertion names; records its use (counter, backup state). */
export async function finishAuthentication(
  context: CeremonyContext,
  credential: AssertionCredential,
): Promise<SignedInWithPasskey> {
  const row = await withStorage('find passkey', () => findPasskeyByCredentialId(context.db, credential.rawId))
  if (!row || credential.id !== credential.rawId) refuse('unknown_credential')
  const known = { passkeyId: row.id, userId: row.user_id }
  let jwk: JsonWebKey
  try {
    jwk = JSON.parse(row.public_key) as JsonWebKey
  } catch {
    refuse('malformed', known)
  }
  const verified = await verifyAssertion(context, credential, {
    id: row.id,
    userId: row.user_id,
    publicKey: { algorithm: row.algorithm, jwk },
    signCount: row.sign_count,
  })
  const recorded = await withStorage('record passkey use', () =>
    recordPasskeyUse(context.db, {
      id: row.id,
      previousCount: row.sign_count,
      signCount: verified.signCount,
      backedUp: verified.backedUp,
      now: nowSeconds(),
    }),
  )
  // Another assertion with this counter got there first (a replay racing the original).
  if (!recorded) refuse('cloned_counter', known)
  return { userId: row.user_id, passkeyId: row.id, backedUp: verified.backedUp }
}

export async function renamePasskey(
  db: D1Database,
  userId: string,
  id: string,
  name: string,
): Promise<boolean> {
  return withStorage('rename passkey', () => renameUserPasskey(db, userId, id, name))
}

export async function deletePasskey(
  db: D1Database,
  input: { userId: string; id: string; otherWayIn: boolean; force?: boolean },
): Promise<'deleted' | 'none' | 'last_way_in'> {
  return withStorage('delete passkey', () => deleteUserPasskey(db, input))
}
