export { type AdminAction, requireUser, revokeUserAsAdmin, updateUserAsAdmin } from './admin-operations'
