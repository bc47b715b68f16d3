import type { AuditSink } from '../audit'
import { delegatedTokenRefused } from '../audit'
import { loadPrincipal } from '../authn'
import { type AccessRule, type Decision, type Denial, decide, ruleFor } from '../authz/policy'
import type { Principal } from '../authz/principal'
import { stepUpError } from '../authz/step-up'
import type { CompiledRoute, GatewayConfig } from '../config/load'
import type { Env } from '../env'
import { GatewayError } from '../errors/gateway-error'
import {
  type CanonicalPath,
  canonicalizePath,
  type RequestTarget,
  splitRequestUrl,
} from '../routing/canonical-path'

/**
 * The stages of a proxied request up to its decision: canonical path → route match → load identity
 * → decide. The proxy (gateway.ts) runs them and forwards; explain (admin/explain-routes.ts) runs the
 * very same functions and reports each outcome instead, so what explain says is what the proxy does.
 */

export interface MatchedRequest {
  target: RequestTarget
  path: CanonicalPath
  route: CompiledRoute
  rule: AccessRule
}

/** Stage 1a: the canonical path of a raw request URL (400 `invalid_path`). */
export function canonicalTarget(url: string): { target: RequestTarget; path: CanonicalPath } {
  const target = splitRequestUrl(url)
  return { target, path: canonicalizePath(target.rawPath) }
}

/** Stage 1b: the route and the rule for this method (404, 405, 400 for an alias or `%25xx`). */
export function matchRoute(
  config: GatewayConfig,
  method: string,
  target: RequestTarget,
  path: CanonicalPath,
): { route: CompiledRoute; rule: AccessRule } {
  const route = config.routeTable.match(method, target.host, path)
  return { route, rule: ruleFor(route, method) }
}

export interface IdentityInput {
  request: Request
  env: Env
  config: GatewayConfig
  route: CompiledRoute
  waitUntil: (promise: Promise<unknown>) => void
  /** Explain: no usage recorded (see CredentialInput.observeOnly). */
  observeOnly?: boolean
  /** Audit events of credential checks (a failed Basic login, a key's use); none in explain. */
  audit?: AuditSink
}

/** Stage 2: the principal the route's credentials load (401 without a valid one). */
export function loadRoutePrincipal(input: IdentityInput): Promise<Principal> {
  const { route } = input
  return loadPrincipal({
    request: input.request,
    env: input.env,
    config: input.config,
    credentials: route.credentials,
    apiKeySources: route.api_key_sources,
    apiKeyParam: route.api_key_param,
    issuers: route.issuers,
    strictRevocation: route.revocation === 'strict',
    audience: route.resource,
    waitUntil: input.waitUntil,
    observeOnly: input.observeOnly,
    audit: input.observeOnly ? undefined : input.audit,
  })
}

/** Stage 3: the decision of the route's rule on the principal. */
export function decideRule(config: GatewayConfig, rule: AccessRule, principal: Principal): Decision {
  return decide(rule, principal, config.roleClosure)
}

const DELEGATED_REFUSED =
  'A token issued to an app may not call this route (delegated = "deny"): it takes the user\'s own credentials.'

/** The error a refusal answers with (403 `forbidden` or `insufficient_scope`). */
export function denialError(decision: Denial): GatewayError {
  switch (decision.reason) {
    case 'insufficient_scope': {
      const scope = decision.scopes.join(' ')
      return new GatewayError('insufficient_scope', `This route requires the scope(s): ${scope}.`, {
        challenge: { scheme: 'Bearer', error: 'insufficient_scope', scope },
      })
    }
    case 'forbidden':
      return new GatewayError(
        'forbidden',
        `This route requires one of the roles: ${decision.roles.join(', ')}.`,
      )
    case 'denied':
      return new GatewayError('forbidden', 'This operation is closed (access = "deny").')
    case 'delegated':
      // RFC 6750 §3.1: the token lacks the privilege; no scope would add it, so none is named.
      return new GatewayError('insufficient_scope', DELEGATED_REFUSED, {
        challenge: { scheme: 'Bearer', error: 'insufficient_scope' },
      })
    case 'wrong_credential':
      return new GatewayError(
        'forbidden',
        `This route requires another kind of credential: ${decision.credentials.join(', ')}.`,
      )
    case 'step_up':
      return stepUpError(decision)
  }
}

/** Everything the stages found out about one request, up to the stage that answered it. */
export interface StageOutcome {
  /** The stage that decided: `allowed` means every stage passed and the request may be forwarded. */
  stage: 'path' | 'route' | 'identity' | 'decision' | 'allowed'
  target?: RequestTarget
  path?: CanonicalPath
  route?: CompiledRoute
  rule?: AccessRule
  principal?: Principal
  decision?: Decision
  /** What the request is answered with when it is not forwarded. */
  error?: GatewayError
  /** A browser navigation without credentials on a session route: the login redirect instead. */
  redirect?: Response
  /** Explain only: a Basic credential was presented and deliberately not checked. */
  uncheckedBasic?: true
}

function failed(outcome: StageOutcome, stage: StageOutcome['stage'], error: unknown): StageOutcome {
  if (!(error instanceof GatewayError)) throw error
  return { ...outcome, stage, error }
}

/**
 * Runs stages 1–3. Client-visible refusals come back as `error` (never thrown), so that the proxy
 * can log and explain can report what each stage found; anything that is not a GatewayError is a
 * bug and is thrown.
 */
export async function decideRequest(
  input: Omit<IdentityInput, 'route'>,
  loginRedirect: (request: Request, route: CompiledRoute, error: unknown) => Response | undefined,
): Promise<StageOutcome> {
  let outcome: StageOutcome = { stage: 'path' }
  try {
    Object.assign(outcome, canonicalTarget(input.request.url))
  } catch (error) {
    return failed(outcome, 'path', error)
  }
  const { target, path } = outcome as Required<Pick<StageOutcome, 'target' | 'path'>>
  try {
    outcome = { ...outcome, ...matchRoute(input.config, input.request.method, target, path) }
  } catch (error) {
    return failed(outcome, 'route', error)
  }
  const { route, rule } = outcome as Required<Pick<StageOutcome, 'route' | 'rule'>>
  if (rule.access === 'public') return { ...outcome, stage: 'allowed', decision: { allow: true } }
  if (rule.access === 'deny') {
    const decision = { allow: false, reason: 'denied' } as const
    return { ...outcome, stage: 'decision', decision, error: denialError(decision) }
  }
  let identityRoute = route
  if (input.observeOnly && route.credentials.includes('basic')) {
    if (/^basic(\s|$)/i.test(input.request.headers.get('authorization') ?? '')) outcome.uncheckedBasic = true
    identityRoute = { ...route, credentials: route.credentials.filter((kind) => kind !== 'basic') }
    if (identityRoute.credentials.length === 0) return { ...outcome, stage: 'identity' }
  }
  try {
    outcome.principal = await loadRoutePrincipal({ ...input, route: identityRoute })
  } catch (error) {
    const redirect = loginRedirect(input.request, route, error)
    if (redirect) return { ...outcome, stage: 'identity', redirect }
    return failed(outcome, 'identity', error)
  }
  const decision = decideRule(input.config, rule, outcome.principal)
  if (!decision.allow) {
    // Worth an operator's eye, unlike a missing scope: an app reaching for what was kept from apps.
    // One event per refused request (an app retrying in a loop writes one row per retry).
    if (decision.reason === 'delegated' && !input.observeOnly)
      input.audit?.record(
        delegatedTokenRefused(outcome.principal, {
          method: input.request.method,
          path: path.path,
          route: route.path,
        }),
      )
    const error = denialError(decision)
    // A browser on a session route steps up on the second-factor (or login) page and comes back.
    const redirect = decision.reason === 'step_up' ? loginRedirect(input.request, route, error) : undefined
    if (redirect) return { ...outcome, stage: 'decision', decision, redirect }
    return { ...outcome, stage: 'decision', decision, error }
  }
  return { ...outcome, stage: 'allowed', decision }
}
