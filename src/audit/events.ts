/**
 * The audit event: its closed set of types and the shape every consumer (D1 rows, the log line,
 * GET /admin/audit, the CLI) shares. Nothing in an event may be a secret: `details` is scrubbed by
 * `safeDetails` on the way in, whatever the caller passed.
 */
import type { Principal } from '../authz/principal'

export const AUDIT_EVENT_TYPES = [
  'login_succeeded',
  'login_failed',
  'throttled',
  'token_issued',
  'refresh_reuse_detected',
  'token_revoked',
  'logout',
  'logout_all',
  'password_changed',
  'api_key_created',
  'api_key_revoked',
  'api_key_used',
  'user_created',
  'user_updated',
  'user_disabled',
  'user_enabled',
  'user_deleted',
  'roles_changed',
  'client_created',
  'client_registered',
  'client_deleted',
  'client_secret_rotated',
  'client_updated',
  'client_metadata_fetched',
  'client_metadata_forgotten',
  'session_created',
  'session_ended',
  'authorization_granted',
  'authorization_denied',
  'consent_granted',
  'consent_revoked',
  'identity_linked',
  'identity_unlinked',
  'admin_action',
  'delegated_token_refused',
  'second_factor_required',
  'mfa_required_refused',
  'second_factor_enrolled',
  'second_factor_removed',
  'second_factor_verified',
  'second_factor_failed',
  'recovery_code_used',
  'recovery_codes_regenerated',
  'factors_reset',
  'passkey_registered',
  'passkey_renamed',
  'passkey_deleted',
  'passkey_refused',
  'passkey_clone_suspected',
  'email_verification_sent',
  'email_verified',
  'email_change_requested',
  'email_changed',
  'email_send_failed',
  'password_reset_requested',
  'password_reset_completed',
  'sign_in_link_sent',
] as const

export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number]
export type AuditOutcome = 'success' | 'failure'
export type DetailValue = string | number | boolean | null | string[]

/** What a caller records; the recorder adds id, time and the request's ip, user agent and id. */
export interface AuditInput {
  type: AuditEventType
  outcome?: AuditOutcome
  actorId?: string | null
  subjectId?: string | null
  clientId?: string | null
  details?: Readonly<Record<string, DetailValue | readonly string[] | undefined>>
}

/** An event as stored, listed and exported. `at` is ISO 8601 (UTC, milliseconds). */
export interface AuditEvent {
  id: string
  at: string
  type: AuditEventType
  outcome: AuditOutcome
  actor_id: string | null
  subject_id: string | null
  client_id: string | null
  ip: string | null
  user_agent: string | null
  request_id: string | null
  details: Record<string, DetailValue>
}

// Keys that name a credential are dropped whatever their value (a caller's mistake stays harmless).
// `passkey_id` names a row, not a secret (a passkey holds no secret on our side: public keys only).
const SECRET_KEY =
  /pass(?!key_id$)(word)?|secret|hash|cookie|authorization|credential|^token$|_token$|^key$|api_key$/i
// Values shaped like our credentials or any JWS: API keys, client secrets, refresh tokens, hex digests.
const SECRET_VALUE =
  /gwk_|gws_|rt_[A-Za-z0-9_-]{20}|eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+|\b[0-9a-f]{64}\b|\$2[aby]\$|pbkdf2/i
const MAX_DETAIL_KEYS = 16
const MAX_TEXT = 256

function scrubText(value: string): string | undefined {
  if (SECRET_VALUE.test(value)) return undefined
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters would forge log lines
  return value.replace(/[\u0000-\u001f\u007f]/g, '').slice(0, MAX_TEXT)
}

/** Only short plain values under non-secret keys survive; anything credential-shaped is dropped. */
export function safeDetails(details: AuditInput['details']): Record<string, DetailValue> {
  const out: Record<string, DetailValue> = {}
  for (const [key, value] of Object.entries(details ?? {}).slice(0, MAX_DETAIL_KEYS)) {
    if (value === undefined || SECRET_KEY.test(key)) continue
    if (typeof value === 'string') {
      const text = scrubText(value)
      if (text !== undefined) out[key] = text
    } else if (Array.isArray(value)) {
      out[key] = value.slice(0, 32).flatMap((item) => {
        const text = typeof item === 'string' ? scrubText(item) : undefined
        return text === undefined ? [] : [text]
      })
    } else if (value === null || typeof value === 'number' || typeof value === 'boolean') {
      out[key] = value
    }
  }
  return out
}

/** Free text fields (ids, user agent) bounded and stripped of control characters and secrets. */
export function safeField(value: string | null | undefined, max = MAX_TEXT): string | null {
  if (value === null || value === undefined || value === '') return null
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters would forge log lines
  const text = value.replace(/[\u0000-\u001f\u007f]/g, '').slice(0, max)
  return SECRET_VALUE.test(text) ? '[redacted]' : text
}

const MAX_PATH = 200

/**
 * `delegated_token_refused`, one shape wherever a credential that is not the user's own is turned
 * away: the account endpoints (requireFirstParty) and routes with `delegated = "deny"` (which also
 * name the route's path).
 */
export function delegatedTokenRefused(
  principal: Pick<Principal, 'id' | 'clientId' | 'method'>,
  request: { method: string; path: string; route?: string },
): AuditInput {
  return {
    type: 'delegated_token_refused',
    outcome: 'failure',
    actorId: principal.id,
    subjectId: principal.id,
    clientId: principal.clientId,
    details: {
      method: request.method,
      path: request.path.slice(0, MAX_PATH),
      ...(request.route === undefined ? {} : { route: request.route.slice(0, MAX_PATH) }),
      auth_method: principal.method,
    },
  }
}
