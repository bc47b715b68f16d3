/**
 * Cost of a sign-in with a passkey: `POST /auth/passkeys/authentication-options` (a challenge
 * stored, the binding cookie set) and `POST /auth/passkeys/authentication` (the assertion checked
 * against the stored key, its use recorded, a session). The passkey is an ES256 key of the tests'
 * simulated authenticator (test/support/webauthn.ts), its row written by the gateway's own
 * `insertPasskey`; each assertion is signed in Node from the options the gateway gave.
 *
 * Passkeys need ISSUER to be a domain (src/config/relying-party.ts), and the bench's gateways run
 * on http://127.0.0.1:<port>: this runs against `gw-passkey`, the default gateway again with
 * ISSUER http://localhost:<its port> (sharing D1 and KV with it), so nothing else changes.
 */
import { toBase64Url } from '../../src/crypto/bytes'
import { uuidv7 } from '../../src/crypto/uuid7'
import { insertPasskey } from '../../src/passkeys/store'
import { type RequestOptions, TestAuthenticator } from '../../test/support/webauthn'
import { openLoginForm, registerUser, setCookieOf } from './accounts'
import { benchDatabase } from './bench-database'
import { StepTimer } from './step-timer'

const COSE_ES256 = -7

export interface PasskeySignInResult {
  signIns: number
  /** workerd CPU of `POST /auth/passkeys/authentication-options` (challenge issued and stored). */
  optionsCpuMs: number
  /** workerd CPU of `POST /auth/passkeys/authentication` (assertion verified, session created). */
  assertionCpuMs: number
  /** Median wall time of the assertion step. */
  assertionMs: number
}

/** A user of its own with one passkey, stored as a registration would store it. */
async function passkeyUser(options: { registerOrigin: string; d1Origin: string; issuer: string }) {
  const userId = await registerUser(options.registerOrigin, 'bench-passkey', `bench-${crypto.randomUUID()}`)
  const authenticator = await TestAuthenticator.create({ origin: options.issuer })
  authenticator.userHandle = toBase64Url(new TextEncoder().encode(userId))
  const inserted = await insertPasskey(benchDatabase(options.d1Origin), {
    id: uuidv7(),
    user_id: userId,
    credential_id: authenticator.id,
    public_key: JSON.stringify(await authenticator.publicJwk()),
    algorithm: COSE_ES256,
    sign_count: authenticator.counter,
    transports: JSON.stringify(['internal']),
    backed_up: 0,
    device_type: 'single_device',
    aaguid: '00000000-0000-0000-0000-000000000000',
    name: 'Bench passkey',
    created_at: Math.floor(Date.now() / 1000),
  })
  if (!inserted) throw new Error('passkey not stored')
  return authenticator
}

async function postJson(url: string, cookie: string, body: unknown): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'sec-fetch-site': 'same-origin', cookie },
    body: JSON.stringify(body),
  })
}

export async function measurePasskeySignIns(options: {
  /** The passkey gateway, reached on loopback; its ISSUER is `issuer`. */
  gatewayOrigin: string
  issuer: string
  /** Where the user is registered (any gateway on the same D1). */
  registerOrigin: string
  d1Origin: string
  signIns: number
  cpuSeconds(): number
}): Promise<PasskeySignInResult> {
  const origin = options.gatewayOrigin
  const authenticator = await passkeyUser(options)
  const optionsStep = new StepTimer(options.cpuSeconds)
  const assertionStep = new StepTimer(options.cpuSeconds)
  for (let i = 0; i < options.signIns; i++) {
    const form = await openLoginForm(origin)
    const [answer, requestOptions] = await optionsStep.time(async () => {
      const response = await postJson(`${origin}/auth/passkeys/authentication-options`, form.csrfCookie, {
        csrf: form.csrf,
      })
      return [response, (await response.json()) as RequestOptions] as const
    })
    const binding = setCookieOf(answer, 'gw_webauthn')
    if (answer.status !== 200 || !binding)
      throw new Error(`passkey options: expected 200 with a binding cookie, got ${answer.status}`)
    const credential = await authenticator.assert(requestOptions)
    const [signedIn, body] = await assertionStep.time(async () => {
      const response = await postJson(
        `${origin}/auth/passkeys/authentication`,
        `${form.csrfCookie}; ${binding}`,
        { csrf: form.csrf, credential, return_to: '/app/' },
      )
      return [response, await response.text()] as const
    })
    if (signedIn.status !== 200 || !setCookieOf(signedIn, 'gw_session'))
      throw new Error(`passkey sign-in: expected 200 with a session, got ${signedIn.status}: ${body}`)
  }
  return {
    signIns: options.signIns,
    optionsCpuMs: optionsStep.cpuMs,
    assertionCpuMs: assertionStep.cpuMs,
    assertionMs: assertionStep.medianMs,
  }
}

export function describePasskeySignIns(result: PasskeySignInResult): string {
  const fixed = (value: number) => value.toFixed(1)
  return (
    `Passkey sign-in (${result.signIns} sign-ins, ES256, ISSUER on localhost, D1 simulated): ` +
    `\`POST /auth/passkeys/authentication-options\` costs ${fixed(result.optionsCpuMs)} ms of CPU, the assertion at ` +
    `\`POST /auth/passkeys/authentication\` ${fixed(result.assertionCpuMs)} ms of CPU ` +
    `(${fixed(result.assertionMs)} ms wall, median).`
  )
}
