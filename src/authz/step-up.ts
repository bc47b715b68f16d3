/**
 * The refusal of a sign-in that is too weak or too old (RFC 9470 §3), shared by routes
 * (`require_mfa`, `max_auth_age`) and the gateway's own endpoints (`require_mfa_for_admin`).
 */
import { GatewayError } from '../errors/gateway-error'
import type { Denial } from './policy'

export type StepUpDenial = Extract<Denial, { reason: 'step_up' }>

/**
 * 401 `insufficient_user_authentication` with `acr_values="mfa"` when a second factor is missing and
 * `max_age` when the sign-in is bounded in age: the client signs the user in again (asking for
 * them at /auth/authorize) and retries; a browser on a session route is sent to the second-factor
 * or login page instead (sessions/navigation.ts reads `acrValues` to choose).
 */
export function stepUpError(decision: StepUpDenial): GatewayError {
  const needs = [
    ...(decision.mfa ? ['a sign-in with a second factor or a passkey'] : []),
    ...(decision.maxAge !== undefined ? [`a sign-in within the last ${decision.maxAge} seconds`] : []),
  ]
  const description = `This requires ${needs.join(' and ')}; API keys and Basic credentials cannot provide it.`
  return new GatewayError('insufficient_user_authentication', description, {
    challenge: {
      scheme: 'Bearer',
      error: 'insufficient_user_authentication',
      description,
      ...(decision.mfa ? { acrValues: 'mfa' } : {}),
      ...(decision.maxAge !== undefined ? { maxAge: decision.maxAge } : {}),
    },
  })
}
