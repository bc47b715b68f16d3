export { cookieNames, readCookieValues, setSessionCookies } from './cookies'
export {
  type CurrentSession,
  currentSessionOf,
  loadSession,
  readSessionCookie,
  recentSessionOf,
} from './credential'
export { assertSessionRequestAllowed, loginFormAllowed, signedInFormAllowed } from './csrf-guard'
export { csrfTokenFor } from './csrf-token'
export { DEVICE_COOKIE_SECONDS, knownDevice, rememberDevice } from './device-cookie'
export { preSessionFormToken, presentedCsrfCookie, renderLoginPage } from './login-form'
export { LOGIN_PATH, loginRedirectFor, loginUrl, SECOND_FACTOR_PATH } from './navigation'
export { DEFAULT_LANDING_PATH, safeReturnTo } from './return-to'
export { revokeSubject } from './revoke-subject'
export { createSession, endSessionByValue, listSessions, resolveSession } from './service'
export {
  completeSecondFactor,
  PENDING_SIGN_IN_SECONDS,
  type SecondFactorSubject,
  type SignInUser,
  secondFactorSubject,
  secondStepFormAllowed,
  secondStepFormToken,
  signIn,
} from './sign-in'
export { signedOut } from './sign-out'
export { assertSignedInForm } from './signed-in-form'
