/**
 * jose and oauth4webapi name their errors `this.constructor.name`. The production bundle is minified
 * without esbuild's keep_names (wrangler.toml: it wrapped every function and class in a naming call,
 * ~17 KiB of the gzipped bundle), which would leave those names minified letters, and the logs'
 * `cause` (errors/render.ts, login-providers) would say `Xe` instead of `JWTExpired`. So their
 * classes get their exported names back once per isolate, as keep_names did for them.
 */
import { errors } from 'jose'
import {
  AuthorizationResponseError,
  OperationProcessingError,
  ResponseBodyError,
  UnsupportedOperationError,
  WWWAuthenticateChallengeError,
} from 'oauth4webapi'

const LIBRARY_ERRORS: Record<string, unknown> = {
  ...errors,
  AuthorizationResponseError,
  OperationProcessingError,
  ResponseBodyError,
  UnsupportedOperationError,
  WWWAuthenticateChallengeError,
}

/** Gives each library error class its exported name (what `error.name` then says). */
export function nameLibraryErrors(): void {
  for (const [name, type] of Object.entries(LIBRARY_ERRORS))
    if (typeof type === 'function') Object.defineProperty(type, 'name', { value: name, configurable: true })
}
