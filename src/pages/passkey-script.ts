/**
 * The one script of the gateway's pages: the browser half of the passkey ceremonies, inline in the
 * login page and the passkeys page and allowed by its hash in their CSP (never `unsafe-inline`).
 * It is written on the browser's own WebAuthn JSON methods (`PublicKeyCredential.
 * parseCreationOptionsFromJSON` / `parseRequestOptionsFromJSON`, `credential.toJSON()`: Chromium
 * 129+, Firefox 119+, Safari 18.4+), so it needs no library and no build step; a browser without
 * them hides the passkey button and says so on the passkeys page. The pages work without it for
 * everything but the ceremonies themselves.
 *
 * Its inputs are the page's markup (ids and data attributes below), never values pasted into the
 * text, so the text and its hash are constants.
 * - Second-factor page: the same `#passkey-sign-in` with data-csrf, data-return-to and
 *   data-conditional="off" (no username field, no autofill request): the passkey as the second step.
 * - Login page: `#passkey-sign-in` (data-options, data-finish) holding `#passkey-button`; the login
 *   form's `csrf`, `return_to` and `remember` fields go with the assertion. When the browser offers
 *   conditional mediation, a passkey request starts at once and the browser lists passkeys in the
 *   username field's autofill (`autocomplete="username webauthn"`); the button cancels that request
 *   first (one WebAuthn request at a time) and asks with the browser's own dialog.
 * - Passkeys page: the `#passkey-add` form (data-options, data-csrf, its `name` field).
 * - Both: `#passkey-error` shows what went wrong.
 */
export const PASSKEY_SCRIPT = `(() => {
  'use strict'
  const PKC = window.PublicKeyCredential
  const byId = (id) => document.getElementById(id)
  const errorBox = byId('passkey-error')
  const show = (message) => {
    if (!errorBox) return
    errorBox.textContent = message
    errorBox.hidden = false
  }
  const supported = !!PKC && typeof PKC.parseCreationOptionsFromJSON === 'function' &&
    typeof PKC.parseRequestOptionsFromJSON === 'function'
  const cancelled = (error) => !!error && (error.name === 'NotAllowedError' || error.name === 'AbortError')
  async function post(url, body, headers) {
    const response = await fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: Object.assign({ 'content-type': 'application/json', accept: 'application/json' }, headers),
      body: JSON.stringify(body),
    })
    const data = await response.json().catch(() => ({}))
    if (!response.ok) throw new Error(data.error_description || 'The gateway answered ' + response.status + '.')
    return data
  }

  const signIn = byId('passkey-sign-in')
  const button = byId('passkey-button')
  if (signIn && button && supported) {
    const form = document.querySelector('form[action="/auth/login"]')
    const field = (name) => {
      // The second-factor page names its CSRF token and return_to on the section itself.
      const own = signIn.dataset[name === 'return_to' ? 'returnTo' : name]
      if (own !== undefined) return own
      const input = form && form.elements.namedItem(name)
      if (!input) return null
      if (input.type === 'checkbox') return input.checked ? input.value : null
      return input.value
    }
    let autofill
    const requestOptions = async () =>
      PKC.parseRequestOptionsFromJSON(await post(signIn.dataset.options, { csrf: field('csrf') }))
    const finish = async (credential) => {
      const data = await post(signIn.dataset.finish, {
        csrf: field('csrf'),
        return_to: field('return_to'),
        remember: field('remember'),
        credential: credential.toJSON(),
      })
      window.location.assign(data.redirect)
    }
    button.hidden = false
    button.addEventListener('click', async () => {
      if (autofill) autofill.abort()
      autofill = undefined
      try {
        const credential = await navigator.credentials.get({ publicKey: await requestOptions() })
        if (credential) await finish(credential)
      } catch (error) {
        show(cancelled(error) ? 'Passkey sign-in was cancelled.' : error.message)
      }
    })
    if (signIn.dataset.conditional !== 'off' && typeof PKC.isConditionalMediationAvailable === 'function') {
      PKC.isConditionalMediationAvailable().then(async (available) => {
        if (!available) return
        const controller = new AbortController()
        autofill = controller
        try {
          const publicKey = await requestOptions()
          if (controller.signal.aborted) return
          const credential = await navigator.credentials.get({
            mediation: 'conditional',
            publicKey,
            signal: controller.signal,
          })
          if (credential && !controller.signal.aborted) await finish(credential)
        } catch (error) {
          if (!controller.signal.aborted && !cancelled(error)) show(error.message)
        }
      })
    }
  }

  const add = byId('passkey-add')
  if (add) {
    const submit = add.querySelector('button')
    if (!supported) {
      if (submit) submit.disabled = true
      show('This browser cannot create passkeys from this page.')
    } else {
      add.addEventListener('submit', async (event) => {
        event.preventDefault()
        const headers = { 'x-csrf-token': add.dataset.csrf }
        const name = add.elements.namedItem('name').value
        try {
          const options = await post(add.dataset.options, {}, headers)
          const credential = await navigator.credentials.create({
            publicKey: PKC.parseCreationOptionsFromJSON(options),
          })
          if (!credential) return
          await post(add.getAttribute('action'), { name, credential: credential.toJSON() }, headers)
          window.location.assign(add.getAttribute('action'))
        } catch (error) {
          show(cancelled(error) ? 'Adding the passkey was cancelled.' : error.message)
        }
      })
    }
  }
})()
`

let hash: Promise<string> | undefined

/** The CSP source of the script (`'sha256-<base64>'`), computed once per isolate. */
export function passkeyScriptHash(): Promise<string> {
  hash ??= crypto.subtle
    .digest('SHA-256', new TextEncoder().encode(PASSKEY_SCRIPT))
    .then((digest) => `'sha256-${btoa(String.fromCharCode(...new Uint8Array(digest)))}'`)
  return hash
}
