import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { MAX_FORM_BYTES } from '../src/http/form'
import { findUserByUsername } from '../src/users/store'
import { fetchWithEnv } from './support/gateway'

// The gateway's own endpoints read form and JSON bodies through a counting reader: these bodies
// are streams that record how much of them was ever pulled.

const CHUNK_BYTES = 4096
const TEN_MB = 10 * 1024 * 1024

interface Pulled {
  chunks: number
  cancelled: boolean
}

/** `prefix`, then filler bytes up to `totalBytes`, in chunks pulled one at a time on demand. */
function countedBody(totalBytes: number, prefix = '', chunkBytes = CHUNK_BYTES) {
  const bytes = new TextEncoder().encode(prefix)
  const pulled: Pulled = { chunks: 0, cancelled: false }
  let sent = 0
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (sent >= totalBytes) return controller.close()
        const size = Math.min(chunkBytes, totalBytes - sent)
        const chunk = new Uint8Array(size).fill(0x61) // "a"
        if (sent < bytes.length) chunk.set(bytes.subarray(sent, sent + size))
        sent += size
        pulled.chunks++
        controller.enqueue(chunk)
      },
      cancel() {
        pulled.cancelled = true
      },
    },
    { highWaterMark: 0 },
  )
  return { stream, pulled, totalChunks: Math.ceil(totalBytes / chunkBytes) }
}

// Registration on, whatever the shipped default, so /auth/register reaches its body.
const SETTINGS = { ...(env.SETTINGS as Record<string, unknown>), registration: true }

function post(path: string, body: ReadableStream<Uint8Array>, headers: Record<string, string>) {
  return fetchWithEnv({ SETTINGS }, path, { method: 'POST', headers, body, duplex: 'half' } as RequestInit)
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded' }
const JSON_TYPE = { 'content-type': 'application/json' }

describe('a body larger than the cap without Content-Length (chunked)', () => {
  it('gets 413 at the token endpoint after reading little more than the cap, not the 10 MB', async () => {
    const { stream, pulled, totalChunks } = countedBody(TEN_MB, 'grant_type=password&username=a&password=')
    const response = await post('/auth/token', stream, FORM)
    expect(response.status).toBe(413)
    expect(await response.json()).toMatchObject({ error: 'payload_too_large' })
    // The cap is 4 chunks; one more crosses it. Everything after that stays unpulled.
    expect(pulled.chunks).toBeLessThanOrEqual(MAX_FORM_BYTES / CHUNK_BYTES + 2)
    expect(pulled.chunks).toBeLessThan(totalChunks / 100)
  })

  it('gets 413 at a JSON endpoint (registration) the same way, and the stream is cancelled', async () => {
    const { stream, pulled } = countedBody(TEN_MB, '{"username":"x","password":"')
    const response = await post('/auth/register', stream, JSON_TYPE)
    expect(response.status).toBe(413)
    expect(pulled.chunks).toBeLessThanOrEqual(MAX_FORM_BYTES / CHUNK_BYTES + 2)
    await scheduler.wait(0)
    expect(pulled.cancelled).toBe(true)
  })
})

describe("the registration page's form POST (a browser: Accept: text/html)", () => {
  const BROWSER_FORM = { ...FORM, accept: 'text/html' }

  it('gets 413 after reading little more than the cap: the page never reads the whole body first', async () => {
    const { stream, pulled, totalChunks } = countedBody(TEN_MB, 'username=big-form&password=')
    const response = await post('/auth/register', stream, BROWSER_FORM)
    expect(response.status).toBe(413)
    expect(pulled.chunks).toBeLessThanOrEqual(MAX_FORM_BYTES / CHUNK_BYTES + 2)
    expect(pulled.chunks).toBeLessThan(totalChunks / 100)
    await scheduler.wait(0)
    expect(pulled.cancelled).toBe(true)
  })

  it('still creates the account from a normal form and redirects to the login page', async () => {
    const body = new URLSearchParams({
      username: 'form-body-page',
      password: 'a long and unusual passphrase 42',
    })
    const response = await fetchWithEnv({ SETTINGS }, '/auth/register', {
      method: 'POST',
      redirect: 'manual',
      headers: BROWSER_FORM,
      body,
    })
    expect(response.status).toBe(303)
    expect(response.headers.get('location')).toBe('/auth/login')
    expect(await findUserByUsername(env.DB, 'form-body-page')).toMatchObject({ username: 'form-body-page' })
  })

  it('shows the form again with the reason and the username on a refusal', async () => {
    const body = new URLSearchParams({ username: 'form-body-weak', password: 'short' })
    const response = await fetchWithEnv({ SETTINGS }, '/auth/register', {
      method: 'POST',
      headers: BROWSER_FORM,
      body,
    })
    expect(response.status).toBe(400)
    const html = await response.text()
    expect(html).toContain('value="form-body-weak"')
    expect(html).toContain('role="alert"')
  })
})

describe('a lying small Content-Length', () => {
  it('does not make the reader trust it: 10 MB under "Content-Length: 40" is 413 after the cap', async () => {
    const { stream, pulled, totalChunks } = countedBody(TEN_MB, 'grant_type=password&username=a&password=')
    const response = await post('/auth/token', stream, { ...FORM, 'content-length': '40' })
    expect(response.status).toBe(413)
    expect(pulled.chunks).toBeLessThan(totalChunks / 100)
  })
})

describe('the cap itself', () => {
  const prefix = 'grant_type=no-such-grant&pad='

  it(`accepts a body of exactly MAX_FORM_BYTES (${MAX_FORM_BYTES}) bytes, streamed in odd-sized chunks`, async () => {
    const { stream } = countedBody(MAX_FORM_BYTES, prefix, 1000)
    const response = await post('/auth/token', stream, FORM)
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ error: 'unsupported_grant_type' })
  })

  it('refuses one byte more with 413', async () => {
    const { stream } = countedBody(MAX_FORM_BYTES + 1, prefix, 1000)
    const response = await post('/auth/token', stream, FORM)
    expect(response.status).toBe(413)
  })

  it('refuses an honest oversized Content-Length before reading anything', async () => {
    const { stream, pulled } = countedBody(MAX_FORM_BYTES + 1, prefix)
    const response = await post('/auth/token', stream, {
      ...FORM,
      'content-length': String(MAX_FORM_BYTES + 1),
    })
    expect(response.status).toBe(413)
    expect(pulled.chunks).toBe(0)
  })
})
