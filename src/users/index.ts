export { loadBasic } from './basic-credential'
export { assertNoSecondFactor, verifyLogin } from './password-check'
export { hashPassword } from './password-hash'
export { checkPassword } from './password-policy'
export {
  deleteUserRow,
  findUserById,
  insertUser,
  listUsers,
  type User,
  updatePasswordHash,
  updateUser,
} from './store'
export {
  type LoginReservation,
  reserveClientRegistration,
  reserveLoginAttempt,
  reserveRegistration,
  throttleSubject,
} from './throttle'
export { USERNAME } from './username'
