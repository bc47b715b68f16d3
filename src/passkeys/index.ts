// Passkeys (WebAuthn): what other rooms may use. The routes are mounted by app.ts and admin/.
export { CHALLENGE_TTL_SECONDS } from './challenges'
export { deleteExpiredChallengesStatement } from './store'
