/**
 * A real browser for end-to-end tests: Debian's `chromium` package driven by playwright-core, which
 * downloads no browser of its own (PLATFORM.md, "Browser tests"). Also what browser tests need
 * around it: a record of what went wrong inside a page (console errors, uncaught exceptions, CSP
 * violations), screenshots kept as artifacts, and a second web site on another origin.
 */
import { mkdir } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core'
import { PROJECT_ROOT } from './project-copy'

/** Screenshots land here (gitignored; CI keeps the directory as an artifact). */
export const ARTIFACTS_DIR = join(PROJECT_ROOT, 'test-artifacts')

// Quiet and deterministic: no update checks, component downloads or first-run UI talking to the
// network while a test runs, and no GPU in a headless container.
const CHROMIUM_ARGS = [
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-gpu',
]

/**
 * Starts Chromium (CHROMIUM_PATH, else Debian's /usr/bin/chromium) with a fresh temporary profile:
 * one browser per test file, closed in afterAll. playwright-core adds the sandbox flags root needs.
 */
export async function launchChromium(): Promise<Browser> {
  const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium'
  try {
    return await chromium.launch({ executablePath, args: CHROMIUM_ARGS })
  } catch (error) {
    throw new Error(
      `cannot start Chromium at ${executablePath} (apt-get install chromium, or set CHROMIUM_PATH): ${error}`,
    )
  }
}

export interface PageProblems {
  /** Everything seen since the last take(), emptied by it. */
  take(): string[]
  /** Only the CSP violations seen so far (they are also in take()). */
  cspViolations(): string[]
}

// Playwright has no event for CSP violations, so a listener in every document reports the DOM's
// `securitypolicyviolation` event through a binding. Both run through the DevTools protocol, not
// as page script, so the page's own CSP (which forbids inline script) does not block them.
const CSP_BINDING = '__reportCspViolation'
const CSP_LISTENER = `document.addEventListener('securitypolicyviolation', (event) => {
  window.${CSP_BINDING}(event.effectiveDirective + ' blocked ' + (event.blockedURI || 'inline') +
    ' in ' + event.documentURI + (event.sourceFile ? ' (' + event.sourceFile + ':' + event.lineNumber + ')' : ''))
}, true)`

/**
 * Records console errors (Chromium also logs every CSP violation and every failed subresource
 * load there), uncaught page exceptions and CSP violations of every page in the context.
 */
export async function watchProblems(context: BrowserContext): Promise<PageProblems> {
  let problems: string[] = []
  const csp: string[] = []
  await context.exposeBinding(CSP_BINDING, (_source, text: string) => {
    csp.push(text)
    problems.push(`CSP violation: ${text}`)
  })
  await context.addInitScript({ content: CSP_LISTENER })
  const watch = (page: Page): void => {
    page.on('console', (message) => {
      if (message.type() !== 'error') return
      const where = message.location().url
      problems.push(`console error: ${message.text()}${where ? ` (${where})` : ''}`)
    })
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
  }
  context.pages().forEach(watch)
  context.on('page', watch)
  return {
    take() {
      const seen = problems
      problems = []
      return seen
    },
    cspViolations: () => [...csp],
  }
}

/** A full-page PNG in test-artifacts/<name>.png; looked at by people, never compared by pixel. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(ARTIFACTS_DIR, { recursive: true })
  const path = join(ARTIFACTS_DIR, `${name}.png`)
  await page.screenshot({ path, fullPage: true })
  return path
}

/** A request as it went over the wire, and the status the server answered, if any. */
export interface WireExchange {
  method: string
  /** Every header the browser sent, including Cookie and Sec-Fetch-* (lower-case names). */
  sent: Record<string, string>
  status?: number
}

/**
 * Records what the page's requests carried on the wire and how the server answered, straight
 * from the DevTools protocol. Playwright's own events do not cover a response that CORS keeps
 * from the page: there the browser reports only a failure, yet the server did answer.
 * Call before the page navigates; returns a lookup by URL (the latest request to it).
 */
export type WireLookup = (url: string) => WireExchange | undefined

export async function recordWire(page: Page): Promise<WireLookup> {
  const byId = new Map<string, WireExchange & { url?: string }>()
  const entry = (id: string) => {
    const found = byId.get(id) ?? { method: '', sent: {} }
    byId.set(id, found)
    return found
  }
  const lower = (headers: Record<string, string>) =>
    Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]))
  const cdp = await page.context().newCDPSession(page)
  cdp.on('Network.requestWillBeSent', (event) => {
    Object.assign(entry(event.requestId), { url: event.request.url, method: event.request.method })
  })
  // The ExtraInfo events carry the raw headers; they may arrive before or after the one above.
  cdp.on('Network.requestWillBeSentExtraInfo', (event) => {
    entry(event.requestId).sent = lower(event.headers as Record<string, string>)
  })
  cdp.on('Network.responseReceivedExtraInfo', (event) => {
    entry(event.requestId).status = event.statusCode
  })
  await cdp.send('Network.enable')
  return (url) => [...byId.values()].filter((exchange) => exchange.url === url).at(-1)
}

/** An attacker's page: a form that posts itself to `target` as soon as it loads. */
export const autoSubmitFormPage = (target: string): string => `<!doctype html><title>win a prize</title>
<form method="POST" action="${target}"><input name="amount" value="1000000"></form>
<script>document.forms[0].submit()</script>`

/**
 * An attacker's page: two credentialed POSTs, simple requests (no preflight), to `<target>/cors`
 * (the default mode: CORS hides the answer) and `<target>/no-cors` (fire and forget: an opaque
 * answer). The title then says what the page could learn, e.g. "blocked, read 0 opaque".
 */
export const credentialedFetchPage = (target: string): string => `<!doctype html><title>win a prize</title>
<script>
const attack = (mode) => fetch(${JSON.stringify(target)} + '/' + mode,
  { method: 'POST', mode, credentials: 'include', body: 'amount=1000000' })
  .then((response) => 'read ' + response.status + ' ' + response.type, () => 'blocked')
Promise.all([attack('cors'), attack('no-cors')]).then((results) => { document.title = results.join(', ') })
</script>`

export interface Site {
  /** http://<host>:<port>, another origin than the gateway's. */
  origin: string
  close(): Promise<void>
}

/**
 * A tiny web site serving fixed HTML pages by path (404 otherwise), e.g. an attacker's page on
 * another origin. It listens on 127.0.0.1; `host` only names it in `origin`, so `localhost` gives
 * a cross-site origin and `127.0.0.1` a same-site one (ports do not separate sites).
 */
export async function startSite(pages: Record<string, string>, host = '127.0.0.1'): Promise<Site> {
  const server: Server = createServer((request, response) => {
    const html = pages[new URL(request.url ?? '/', 'http://site').pathname]
    response.writeHead(html === undefined ? 404 : 200, { 'content-type': 'text/html; charset=utf-8' })
    response.end(html ?? 'not found')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    origin: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
