import type { GrantContext, TokenResponse } from '../tokens'
import type { GrantType } from './client-store'

/**
 * `token_issued` for a token response, whatever the grant: who it was issued to, for which client,
 * with which scope and whether a refresh token came with it (never a token).
 */
export function auditIssued(
  context: GrantContext,
  grantType: GrantType,
  subjectId: string,
  clientId: string | undefined,
  response: TokenResponse,
): void {
  context.audit?.record({
    type: 'token_issued',
    actorId: subjectId,
    subjectId,
    clientId,
    details: { grant_type: grantType, scope: response.scope, refresh: response.refresh_token !== undefined },
  })
}
