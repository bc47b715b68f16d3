/**
 * Cost of a sign-in with TOTP as the second step: the password at `POST /auth/login` (303 to
 * /auth/second-factor with a pending sign-in) and the code at `POST /auth/second-factor` (303 with
 * a session). A used 30-s step is refused (src/second-factor/store.ts claimStep), so each sign-in
 * is a user of its own, registered through the gateway and enrolled by the gateway's own
 * `insertConfirmedTotp` with its own secret, sealed under the bench's DATA_KEYS: fifty sign-ins take
 * a few seconds instead of 25 minutes of waiting for fresh steps.
 */
import { generateTOTP } from '@oslojs/otp'
import { loadDataKeys } from '../../src/config/data-keys'
import { sealData } from '../../src/crypto/data-seal'
import { insertConfirmedTotp, totpBinding } from '../../src/second-factor/store'
import { newTotpSecret, TOTP_DIGITS, TOTP_PERIOD_SECONDS } from '../../src/second-factor/totp'
import { openLoginForm, postLoginForm, registerUser, setCookieOf } from './accounts'
import { benchDatabase } from './bench-database'
import { StepTimer } from './step-timer'

export interface TotpSignInResult {
  signIns: number
  /** workerd CPU of `POST /auth/login` for a user with TOTP (password checked, pending sign-in set). */
  passwordCpuMs: number
  passwordMs: number
  /** workerd CPU of `POST /auth/second-factor` with a right code (secret opened, step claimed, session). */
  codeCpuMs: number
  /** Median wall time of the code step. */
  codeMs: number
}

interface TotpUser {
  username: string
  password: string
  secret: Uint8Array
}

/** A user with a confirmed TOTP whose last used step is long past, so the current code is good. */
async function enrolledUser(options: { gatewayOrigin: string; db: D1Database; dataKeys: string }, n: number) {
  const user: TotpUser = {
    username: `bench-totp-${n}`,
    password: `bench-${crypto.randomUUID()}`,
    secret: newTotpSecret(),
  }
  const userId = await registerUser(options.gatewayOrigin, user.username, user.password)
  const ring = await loadDataKeys(options.dataKeys)
  const stored = await insertConfirmedTotp(options.db, {
    userId,
    sealedSecret: await sealData(ring, user.secret, totpBinding(userId)),
    step: 0,
    recoveryHashes: [],
    now: Math.floor(Date.now() / 1000),
  })
  if (!stored) throw new Error(`${user.username}: TOTP not stored`)
  return user
}

export async function measureTotpSignIns(options: {
  gatewayOrigin: string
  d1Origin: string
  /** The DATA_KEYS secret the bench gateways were given. */
  dataKeys: string
  signIns: number
  cpuSeconds(): number
}): Promise<TotpSignInResult> {
  const origin = options.gatewayOrigin
  const db = benchDatabase(options.d1Origin)
  const users: TotpUser[] = []
  for (let n = 0; n < options.signIns; n++) users.push(await enrolledUser({ ...options, db }, n))
  const password = new StepTimer(options.cpuSeconds)
  const code = new StepTimer(options.cpuSeconds)
  for (const user of users) {
    const form = await openLoginForm(origin)
    const login = await password.time(() => postLoginForm(origin, form, user))
    const pending = setCookieOf(login, 'gw_pending')
    if (login.status !== 303 || !login.headers.get('location')?.includes('/auth/second-factor') || !pending)
      throw new Error(`TOTP user login: expected a 303 to the second step, got ${login.status}`)
    const totp = generateTOTP(user.secret, TOTP_PERIOD_SECONDS, TOTP_DIGITS)
    const step = await code.time(async () => {
      const response = await fetch(`${origin}/auth/second-factor`, {
        method: 'POST',
        redirect: 'manual',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'sec-fetch-site': 'same-origin',
          cookie: `${form.csrfCookie}; ${pending}`,
        },
        body: new URLSearchParams({ code: totp, csrf: form.csrf, return_to: '/app/' }),
      })
      await response.text()
      return response
    })
    if (step.status !== 303 || !setCookieOf(step, 'gw_session'))
      throw new Error(`TOTP second step: expected a 303 with a session, got ${step.status}`)
  }
  return {
    signIns: options.signIns,
    passwordCpuMs: password.cpuMs,
    passwordMs: password.medianMs,
    codeCpuMs: code.cpuMs,
    codeMs: code.medianMs,
  }
}

export function describeTotpSignIns(result: TotpSignInResult): string {
  const fixed = (ms: number) => ms.toFixed(1)
  return (
    `TOTP sign-in (${result.signIns} sign-ins, a user each, D1 simulated): the password at \`POST /auth/login\` ` +
    `costs ${fixed(result.passwordCpuMs)} ms of CPU (${fixed(result.passwordMs)} ms wall, median), the code at ` +
    `\`POST /auth/second-factor\` ${fixed(result.codeCpuMs)} ms of CPU (${fixed(result.codeMs)} ms wall, median).`
  )
}
