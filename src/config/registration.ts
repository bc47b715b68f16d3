/**
 * Whether `POST /auth/register` is open. `SETTINGS.registration` in wrangler.toml is the deployed
 * answer and ships `false`: open sign-up lets anyone into every route that only asks for an
 * authenticated caller. The `REGISTRATION` var overrides it so local development can open sign-up
 * from `.dev.vars` (`npm start` writes `REGISTRATION=on` there) while the shipped config stays
 * closed. Only "on" and "off" are accepted: a typo such as "yes" or "true" must not silently open
 * or close sign-up, so anything else is a configuration problem (503 gateway_misconfigured).
 */

export const REGISTRATION_PROBLEM =
  'REGISTRATION: must be "on" or "off" (or unset to use SETTINGS.registration)'

export type RegistrationOverride = { ok: true; value: boolean | undefined } | { ok: false; problem: string }

/** The `REGISTRATION` var: `undefined` when unset (SETTINGS.registration decides). */
export function parseRegistrationOverride(value: unknown): RegistrationOverride {
  if (value === undefined) return { ok: true, value: undefined }
  if (value === 'on') return { ok: true, value: true }
  if (value === 'off') return { ok: true, value: false }
  return { ok: false, problem: REGISTRATION_PROBLEM }
}
