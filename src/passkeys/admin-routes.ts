/**
 * /admin/users/{id}/passkeys: a user's passkeys (never a public key), and removing one, e.g. a
 * lost or suspected-cloned authenticator. The admin may remove a user's last passkey (the user's
 * own DELETE refuses that): an operator acting on a compromised key must not be blocked by it, and
 * can give the account a password or a provider link.
 */
import * as z from 'zod/mini'
import { requireUser } from '../accounts'
import {
  adminAction,
  adminApp,
  ERROR_RESPONSES,
  listOf,
  NO_STORE,
  NOT_FOUND,
  named,
  operation,
  SECURITY,
  UserId,
} from '../admin'
import { GatewayError } from '../errors/gateway-error'
import { PasskeySchema } from './schemas'
import { deletePasskey, listPasskeys } from './service'

export const adminPasskeyRoutes = adminApp()

const common = { tags: ['Admin: users'], security: SECURITY }

const Passkey = named('Passkey', PasskeySchema)
const PasskeyList = listOf(Passkey, 'PasskeyList')

operation(
  adminPasskeyRoutes,
  {
    ...common,
    method: 'get',
    path: '/admin/users/{id}/passkeys',
    summary: "A user's passkeys (names, kinds and dates; no key material)",
    params: UserId,
    responses: { 200: { description: 'Passkeys', schema: PasskeyList }, ...ERROR_RESPONSES, ...NOT_FOUND },
  },
  async (c, { params }) => {
    const user = await requireUser(c.env.DB, params.id)
    return c.json({ items: await listPasskeys(c.env.DB, user.id), next_cursor: null }, 200, NO_STORE)
  },
)

operation(
  adminPasskeyRoutes,
  {
    ...common,
    method: 'delete',
    path: '/admin/users/{id}/passkeys/{passkey_id}',
    summary: "Remove a user's passkey (also the last one: see the description)",
    description:
      'Unlike the user’s own DELETE /auth/passkeys/{id}, an admin may remove the last way in (a lost or cloned authenticator); give the account a password or a provider link so it can sign in again.',
    params: z.extend(UserId, { passkey_id: z.string().check(z.maxLength(64)) }),
    responses: { 204: { description: 'Removed' }, ...ERROR_RESPONSES, ...NOT_FOUND },
  },
  async (c, { params }) => {
    const action = adminAction(c)
    const user = await requireUser(c.env.DB, params.id)
    const result = await deletePasskey(c.env.DB, {
      userId: user.id,
      id: params.passkey_id,
      otherWayIn: false,
      force: true,
    })
    if (result !== 'deleted') throw new GatewayError('not_found', 'That user has no passkey with that id.')
    action.audit?.record({
      type: 'passkey_deleted',
      actorId: action.actorId,
      subjectId: user.id,
      details: { passkey_id: params.passkey_id, by: 'admin' },
    })
    return c.body(null, 204)
  },
)
