export { loadBasic } from './basic-credential'
export { MAX_EMAIL_LENGTH, normalizeEmail } from './email-address'
export { assertNoSecondFactor, verifyLogin } from './password-check'
export { hashPassword } from './password-hash'
export { checkPassword } from './password-policy'
export {
  deleteUserRow,
  findUserByEmail,
  findUserById,
  insertUser,
  listUsers,
  markEmailVerified,
  setUserEmail,
  type User,
  updatePasswordHash,
  updateUser,
} from './store'
export {
  type LoginReservation,
  reserveClientRegistration,
  reserveEmailCodeCheck,
  reserveEmailRequest,
  reserveLoginAttempt,
  reserveRegistration,
  throttleSubject,
} from './throttle'
export { USERNAME } from './username'
