/**
 * The end of every browser sign-in (password form, provider callback, passkey) and of the second
 * step: one place decides whether a session starts now or the user owes a second factor first.
 *
 * A user with `mfa_enabled` who proved only a first factor gets no session: the browser receives a
 * pending sign-in (a short-lived cookie holding a JWT signed with the gateway's key: who, which
 * first factor, when, where to go after) and is sent to the second-factor page. Only a verified
 * second factor turns it into a session (completeSecondFactor). The same page upgrades a signed-in
 * session for a route or an authorization request that demands more (step-up): the old session
 * ends and a new one with the combined `amr` replaces it.
 *
 * @example
 * ```ts
 * return signIn(c, { user, amr: ['pwd'], authMethod: 'password', persistent, returnTo })
 * ```
 */
import type { Context } from 'hono'
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose'
import { recordAuditEvent } from '../audit'
import { combineFactors, satisfiesMfa } from '../authz/authentication-strength'
import type { AppBindings } from '../env'
import { clearGatewayCookie, gatewayCookieName, setGatewayCookie } from '../http/gateway-cookie'
import { loadKeyRing } from '../tokens'
import { cookieNames, readCookieValues, setSessionCookies } from './cookies'
import { currentSessionOf, readSessionCookie } from './credential'
import { loginFormAllowed, signedInFormAllowed } from './csrf-guard'
import { csrfTokenFor } from './csrf-token'
import { preSessionFormToken, presentedCsrfCookie } from './login-form'
import { SECOND_FACTOR_PATH } from './navigation'
import { safeReturnTo } from './return-to'
import { createSession, endSessionByValue } from './service'

/** How long the second step may take after the first (the code or passkey prompt). */
export const PENDING_SIGN_IN_SECONDS = 300

const PENDING_TYP = 'gw-pending-sign-in+jwt'

export interface SignInUser {
  id: string
  username: string
  roles: string[]
  mfaEnabled: boolean
}

export interface SignInInput {
  user: SignInUser
  /** RFC 8176 methods proved so far (src/authz/authentication-strength.ts). */
  amr: readonly string[]
  /** "password", "passkey" or "provider:<name>". */
  authMethod: string
  persistent: boolean
  /** Already checked by safeReturnTo. */
  returnTo: string
  /** Added to the `session_created` audit event. */
  details?: Record<string, string | number | boolean>
}

/** Who stands at the second-factor page, and what finishing it leads to. */
export interface SecondFactorSubject {
  /** `pending`: a first factor awaiting its second; `session`: a signed-in user stepping up. */
  kind: 'pending' | 'session'
  userId: string
  username: string
  amr: string[]
  authMethod: string
  /** When the first factor was proved (kept by a pending sign-in, renewed by a step-up). */
  authTime: number
  persistent: boolean
  returnTo: string
}

// The pending sign-in's cookie (src/http/gateway-cookie.ts): `__Host-gw_pending` on https.
const PENDING_COOKIE = 'gw_pending'
const PENDING_COOKIE_OPTIONS = { sameSite: 'Lax', maxAge: PENDING_SIGN_IN_SECONDS } as const

/** Starts the session, or the second step when the user owes one; answers the 303 either way. */
export async function signIn(c: Context<AppBindings>, input: SignInInput): Promise<Response> {
  const { config } = c.var.ctx
  const names = cookieNames(config.issuer)
  // Session fixation: whatever session this browser had ends before anyone signs in.
  for (const value of readCookieValues(c.req.header('cookie') ?? null, names.session))
    await endSessionByValue(c.env, value)

  c.header('cache-control', 'no-store')
  if (input.user.mfaEnabled && !satisfiesMfa(input.amr)) {
    await setPendingSignIn(c, input)
    recordAuditEvent(c.var.ctx, {
      type: 'second_factor_required',
      actorId: input.user.id,
      subjectId: input.user.id,
      details: { method: input.authMethod },
    })
    return c.redirect(SECOND_FACTOR_PATH, 303)
  }
  return startSession(c, input, undefined)
}

async function startSession(
  c: Context<AppBindings>,
  input: SignInInput & { authTime?: number },
  replacing: string | undefined,
): Promise<Response> {
  const { config } = c.var.ctx
  const names = cookieNames(config.issuer)
  if (replacing !== undefined) await endSessionByValue(c.env, replacing)
  const session = await createSession(c.env, config.settings, {
    user: input.user,
    persistent: input.persistent,
    userAgent: c.req.header('user-agent') ?? null,
    ip: c.req.header('cf-connecting-ip') ?? null,
    authMethod: input.authMethod,
    amr: input.amr,
    authTime: input.authTime,
  })
  recordAuditEvent(c.var.ctx, {
    type: 'session_created',
    actorId: input.user.id,
    subjectId: input.user.id,
    details: {
      session_id: session.id,
      persistent: input.persistent,
      amr: input.amr.join(' '),
      ...input.details,
    },
  })
  setSessionCookies(
    c,
    names,
    session.value,
    await csrfTokenFor(session.value),
    input.persistent ? config.settings.session_lifetime_seconds : undefined,
  )
  clearGatewayCookie(c, config.issuer, PENDING_COOKIE, PENDING_COOKIE_OPTIONS)
  c.header('cache-control', 'no-store')
  return c.redirect(input.returnTo, 303)
}

async function setPendingSignIn(c: Context<AppBindings>, input: SignInInput): Promise<void> {
  const { config } = c.var.ctx
  const ring = await loadKeyRing(c.env.SIGNING_KEYS)
  const jwt = await new SignJWT({
    username: input.user.username,
    amr: [...input.amr],
    method: input.authMethod,
    persistent: input.persistent,
    return_to: input.returnTo,
  })
    .setProtectedHeader({ alg: ring.signer.alg, kid: ring.signer.kid, typ: PENDING_TYP })
    .setIssuer(config.issuer)
    .setAudience(`${config.issuer}${SECOND_FACTOR_PATH}`)
    .setSubject(input.user.id)
    .setIssuedAt()
    .setExpirationTime(`${PENDING_SIGN_IN_SECONDS}s`)
    .sign(ring.signer.privateKey)
  setGatewayCookie(c, config.issuer, PENDING_COOKIE, jwt, PENDING_COOKIE_OPTIONS)
}

/** The pending sign-in of this browser, if its cookie holds a valid one. */
async function readPendingSignIn(c: Context<AppBindings>): Promise<SecondFactorSubject | undefined> {
  const { config } = c.var.ctx
  const values = readCookieValues(
    c.req.header('cookie') ?? null,
    gatewayCookieName(config.issuer, PENDING_COOKIE),
  )
  if (values.length !== 1 || !values[0]) return undefined
  const ring = await loadKeyRing(c.env.SIGNING_KEYS)
  try {
    const { payload } = await jwtVerify(
      values[0],
      (header) => {
        const key = header.kid === undefined ? undefined : ring.verifiers.get(header.kid)
        if (!key || key.alg !== header.alg) throw new joseErrors.JWKSNoMatchingKey()
        return key.key
      },
      {
        issuer: config.issuer,
        audience: `${config.issuer}${SECOND_FACTOR_PATH}`,
        typ: PENDING_TYP,
        algorithms: ['ES256', 'EdDSA'],
        requiredClaims: ['sub', 'exp', 'iat'],
        maxTokenAge: PENDING_SIGN_IN_SECONDS,
      },
    )
    const amr = Array.isArray(payload.amr)
      ? payload.amr.filter((v): v is string => typeof v === 'string')
      : []
    if (
      typeof payload.sub !== 'string' ||
      typeof payload.username !== 'string' ||
      typeof payload.method !== 'string'
    )
      return undefined
    return {
      kind: 'pending',
      userId: payload.sub,
      username: payload.username,
      amr,
      authMethod: payload.method,
      authTime: payload.iat ?? 0,
      persistent: payload.persistent === true,
      returnTo: safeReturnTo(
        typeof payload.return_to === 'string' ? payload.return_to : undefined,
        config.issuer,
      ),
    }
  } catch {
    // Expired, forged or from another key set: the user signs in again.
    return undefined
  }
}

/**
 * Who the second-factor page is for: this browser's pending sign-in, else its signed-in session
 * (a step-up, returning to `returnTo`); undefined sends the browser to the login page.
 */
export async function secondFactorSubject(
  c: Context<AppBindings>,
  returnTo: string,
): Promise<SecondFactorSubject | undefined> {
  const pending = await readPendingSignIn(c)
  if (pending) return pending
  const session = await currentSessionOf(c)
  if (!session) return undefined
  return {
    kind: 'session',
    userId: session.userId,
    username: session.username,
    amr: session.amr,
    authMethod: session.authMethod,
    authTime: session.authTime,
    persistent: false,
    returnTo,
  }
}

/**
 * Finishes the second step once a factor was verified (the caller verified it for
 * `subject.userId`): a session with both factors' `amr`, replacing a session being stepped up.
 * `user` is the user as D1 has it now (roles may have changed since the first step).
 */
export async function completeSecondFactor(
  c: Context<AppBindings>,
  subject: SecondFactorSubject,
  user: SignInUser,
  factorAmr: readonly string[],
): Promise<Response> {
  const amr = combineFactors(subject.amr, factorAmr)
  let replacing: string | undefined
  if (subject.kind === 'session') {
    const names = cookieNames(c.var.ctx.config.issuer)
    replacing = readCookieValues(c.req.header('cookie') ?? null, names.session)[0]
  }
  return startSession(
    c,
    {
      user,
      amr,
      authMethod: subject.authMethod,
      persistent: subject.persistent,
      returnTo: subject.returnTo,
      details: { step: subject.kind === 'pending' ? 'second_factor' : 'step_up' },
      // A pending sign-in keeps the first factor's time (the user is signing in now); a step-up
      // is a fresh authentication.
      authTime: subject.kind === 'pending' ? subject.authTime : undefined,
    },
    replacing,
  )
}

/**
 * The CSRF token of the second step's forms: a pending sign-in has no session yet, so its forms
 * are guarded like the login form (the pre-session CSRF cookie); a step-up's like any signed-in
 * form (the session's token). Undefined: a step-up whose session cookie is gone.
 */
export async function secondStepFormToken(
  c: Context<AppBindings>,
  subject: SecondFactorSubject,
): Promise<string | undefined> {
  if (subject.kind === 'pending') return preSessionFormToken(c)
  const value = readSessionCookie(c.req.raw, c.var.ctx.config.issuer)
  return value === undefined ? undefined : csrfTokenFor(value)
}

/** Whether a second-step form (or the passkey script's request) passes that CSRF guard. */
export async function secondStepFormAllowed(
  c: Context<AppBindings>,
  subject: SecondFactorSubject,
  field: string | null | undefined,
): Promise<boolean> {
  const { config } = c.var.ctx
  if (subject.kind === 'pending')
    return loginFormAllowed({ request: c.req.raw, config, cookieToken: presentedCsrfCookie(c), field })
  const value = readSessionCookie(c.req.raw, config.issuer)
  if (value === undefined) return false
  return signedInFormAllowed({ request: c.req.raw, config, sessionValue: value, field })
}
