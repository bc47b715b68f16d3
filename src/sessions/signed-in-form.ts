import type { Context } from 'hono'
import type { AppBindings } from '../env'
import { GatewayError } from '../errors/gateway-error'
import { signedInFormAllowed } from './csrf-guard'

/**
 * A form of a signed-in page (account, second-factor setup): its `csrf` field must carry this
 * session's token and the origin check must pass (csrf-guard.ts), else 403 `csrf_failed`. Same
 * origin alone is not enough for a form.
 */
export async function assertSignedInForm(
  c: Context<AppBindings>,
  sessionValue: string,
  form: URLSearchParams,
): Promise<void> {
  const allowed = await signedInFormAllowed({
    request: c.req.raw,
    config: c.var.ctx.config,
    sessionValue,
    field: form.get('csrf'),
  })
  if (!allowed) throw new GatewayError('csrf_failed', 'This form has expired or was sent from another site.')
}
