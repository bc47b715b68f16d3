/**
 * POST /admin/users/{id}/reset-factors: for a user who lost their authenticator app and recovery
 * codes. Removes TOTP and the recovery codes and turns the second step off; audited with the admin
 * as actor. (GET /admin/users/{id} reports the factors: accounts/admin-routes.ts.)
 */

import { requireUser } from '../accounts'
import {
  adminAction,
  adminApp,
  ERROR_RESPONSES,
  FactorsReset,
  NO_STORE,
  NOT_FOUND,
  operation,
  SECURITY,
  UserId,
} from '../admin'
import { factorSummary, resetFactors } from './service'

export const adminSecondFactorRoutes = adminApp()

operation(
  adminSecondFactorRoutes,
  {
    tags: ['Admin: users'],
    security: SECURITY,
    method: 'post',
    path: '/admin/users/{id}/reset-factors',
    summary:
      "Remove a user's second factors (authenticator app, recovery codes) and turn the second step off",
    description:
      'For a user who lost their phone and recovery codes: their next password sign-in needs no second factor, and they can set one up again. Audited as `factors_reset`. The user’s sessions are left alone; end them with `POST /admin/users/{id}/revoke` if the account may have been taken over.',
    params: UserId,
    responses: {
      200: { description: 'What was removed, and the factors now', schema: FactorsReset },
      ...ERROR_RESPONSES,
      ...NOT_FOUND,
    },
  },
  async (c, { params }) => {
    const action = adminAction(c)
    const user = await requireUser(c.env.DB, params.id)
    const result = await resetFactors(c.env.DB, user.id)
    action.audit?.record({
      type: 'factors_reset',
      actorId: action.actorId,
      subjectId: user.id,
      details: { totp_removed: result.totpRemoved, recovery_codes_removed: result.recoveryCodesRemoved },
    })
    const factors = await factorSummary(c.env.DB, { id: user.id, mfaEnabled: false })
    const body = {
      user_id: user.id,
      totp_removed: result.totpRemoved,
      recovery_codes_removed: result.recoveryCodesRemoved,
      factors,
    }
    return c.json(body, 200, NO_STORE)
  },
)
