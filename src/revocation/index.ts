export {
  assertNotRevoked,
  type DenyOptions,
  denySubject,
  MAX_CLOCK_SKEW_SECONDS,
  type RevocationStores,
  revokeAccessToken,
  subjectNotBeforeMs,
} from './denylist'
