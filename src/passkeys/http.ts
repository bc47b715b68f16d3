/**
 * What the passkey routes share: the relying party (or the clear 400 without one), the ceremony
 * context of a request, and a refusal turned into its audit event and GatewayError.
 */
import type { Context } from 'hono'
import { recordAuditEvent } from '../audit'
import { PASSKEYS_NEED_A_DOMAIN, type RelyingParty, relyingPartyFor } from '../config/relying-party'
import type { AppBindings } from '../env'
import { GatewayError } from '../errors/gateway-error'
import type { CeremonyContext } from './ceremonies'
import { presentedBinding } from './challenges'
import { CeremonyRefused } from './refusal'

export function requireRelyingParty(c: Context<AppBindings>): RelyingParty {
  const rp = relyingPartyFor(c.var.ctx.config.issuer)
  if (!rp) throw new GatewayError('passkeys_unavailable', PASSKEYS_NEED_A_DOMAIN)
  return rp
}

export function ceremonyContext(c: Context<AppBindings>, rp: RelyingParty): CeremonyContext {
  return { db: c.env.DB, rp, binding: presentedBinding(c.req.raw, c.var.ctx.config.issuer) }
}

/**
 * Runs a ceremony step; a refusal is audited (`passkey_refused`, and `passkey_clone_suspected` for
 * a counter that went back) and answered as a GatewayError: 409 for a credential registered
 * already, 401 for a refused sign-in, 400 for a refused registration.
 */
export async function auditedCeremony<T>(
  c: Context<AppBindings>,
  ceremony: 'registration' | 'authentication',
  actorId: string | null,
  run: () => Promise<T>,
): Promise<T> {
  try {
    return await run()
  } catch (error) {
    if (!(error instanceof CeremonyRefused)) throw error
    const subjectId = error.userId ?? actorId
    const details = { ceremony, reason: error.reason, passkey_id: error.passkeyId }
    recordAuditEvent(c.var.ctx, { type: 'passkey_refused', outcome: 'failure', actorId, subjectId, details })
    if (error.reason === 'cloned_counter')
      recordAuditEvent(c.var.ctx, {
        type: 'passkey_clone_suspected',
        outcome: 'failure',
        actorId,
        subjectId,
        details,
      })
    if (error.reason === 'credential_taken') throw new GatewayError('conflict', error.message)
    if (ceremony === 'authentication') throw new GatewayError('invalid_credentials', error.message)
    throw new GatewayError('invalid_request', error.message)
  }
}
