/**
 * A real MCP client against the real gateway (issue 21, "Tests (real parts)"): the official SDK's
 * `Client` with its Streamable HTTP transport and OAuth client provider (examples/mcp-client/),
 * `npm start` with its demo MCP server behind `/mcp`, and real Chromium signing in and approving on
 * the gateway's pages. The SDK finds everything from a bare 401: the protected resource metadata,
 * the authorization server, PKCE with `resource`; the calls then reach the demo server with the
 * user's identity, a tool the user's scopes do not cover is refused, a refresh works, and
 * withdrawing the app's grant ends its access.
 *
 * Time budget: ~35 s on a 2-core machine (one gateway, Chromium; the CLI set-up runs in-process;
 * measured 42 s at load 8 with other suites running).
 * The last two tests let the SDK register itself (RFC 7591), then name itself by a Client ID Metadata
 * Document served over https by a loopback stand-in (a throwaway CA given to workerd).
 */
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { refreshAuthorization, UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import {
  InMemoryOAuthProvider,
  type LoopbackReceiver,
  startLoopbackReceiver,
} from '../../examples/mcp-client/loopback-oauth'
import { adminInProcess, closeLocalStates } from './admin-support'
import { launchChromium } from './support/browser'
import { type RunningGateway, startGateway } from './support/gateway'
import { type HttpsStandIn, startHttpsStandIn } from './support/https-stand-in'

const USERNAME = 'mcp-user'
const PASSWORD = 'correct horse battery staple for mcp'
const CLIENT_ID = 'mcp-cli'

let gateway: RunningGateway
let receiver: LoopbackReceiver
let documents: HttpsStandIn
let browser: Browser
let page: Page
let provider: InMemoryOAuthProvider
let authorizationUrl: URL | undefined
const client = new Client({ name: 'gateway-e2e', version: '1.0.0' })

async function cli(args: string[], stdin?: string): Promise<string> {
  const run = await adminInProcess(join(gateway.dir, '.wrangler', 'state'), args, { stdin })
  if (run.code !== 0) throw new Error(`admin ${args[0]} failed: ${run.stderr}`)
  return run.stdout
}

function mcpUrl(): URL {
  return new URL(`${gateway.origin}/mcp`)
}

function transport(): StreamableHTTPClientTransport {
  return new StreamableHTTPClientTransport(mcpUrl(), { authProvider: provider })
}

/** Signs in and approves in Chromium; resolves with the code the loopback receiver got. */
async function approveInBrowser(url: URL): Promise<string> {
  const code = receiver.code(provider.expectedState, 60_000)
  await page.goto(url.href)
  expect(new URL(page.url()).pathname).toBe('/auth/login')
  await page.getByLabel(/user ?name/i).fill(USERNAME)
  await page.getByLabel(/^password$/i).fill(PASSWORD)
  await page.getByRole('button', { name: /sign in/i }).click()
  await page.waitForURL((at) => at.pathname === '/auth/authorize')
  await page.getByRole('button', { name: 'Allow' }).click()
  return code
}

function text(result: Awaited<ReturnType<Client['callTool']>>): string {
  return (result.content as { type: string; text?: string }[]).map((part) => part.text ?? '').join('\n')
}

beforeAll(async () => {
  receiver = await startLoopbackReceiver()
  // Client ID Metadata Documents are fetched over https only: a loopback stand-in with a throwaway
  // CA (NODE_EXTRA_CA_CERTS reaches workerd), allowed by the local-only setting.
  documents = await startHttpsStandIn()
  gateway = await startGateway({
    env: { NODE_EXTRA_CA_CERTS: documents.caFile },
    prepare: async (dir) => {
      const file = join(dir, 'wrangler.toml')
      const toml = await readFile(file, 'utf8')
      await writeFile(
        file,
        toml.replace(
          '[vars.SETTINGS]\n',
          `[vars.SETTINGS]\nclient_metadata_document_allow_hosts = ["${documents.host}"]\n`,
        ),
      )
    },
  })
  await cli(['create-user', USERNAME, '--password-stdin'], PASSWORD)
  // Registered by the operator (dynamic registration has its own test): the SDK uses it as given.
  await cli([
    'create-client',
    CLIENT_ID,
    '--public',
    '--redirect-uri',
    receiver.redirectUrl,
    '--scope',
    'read',
    '--scope',
    'write',
    '--name',
    'MCP CLI',
  ])
  provider = new InMemoryOAuthProvider(
    receiver.redirectUrl,
    {
      client_name: 'MCP CLI',
      redirect_uris: [receiver.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    },
    (url) => {
      authorizationUrl = url
    },
  )
  provider.saveClientInformation({ client_id: CLIENT_ID, redirect_uris: [receiver.redirectUrl] })
  browser = await launchChromium()
  page = await (await browser.newContext()).newPage()
}, 300_000)

afterAll(async () => {
  await client.close().catch(() => undefined)
  await browser?.close()
  await closeLocalStates()
  await gateway?.stop()
  await receiver?.close()
  await documents?.close()
})

describe('the MCP SDK client through the gateway', () => {
  test('discovers the gateway from a bare 401, signs in with PKCE and resource, and calls tools', async () => {
    const first = transport()
    await expect(client.connect(first)).rejects.toBeInstanceOf(UnauthorizedError)
    expect(authorizationUrl?.origin).toBe(gateway.origin)
    expect(authorizationUrl?.pathname).toBe('/auth/authorize')
    expect(authorizationUrl?.searchParams.get('resource')).toBe(mcpUrl().href)
    expect(authorizationUrl?.searchParams.get('code_challenge_method')).toBe('S256')
    expect(authorizationUrl?.searchParams.get('scope')).toBe('read')

    const code = await approveInBrowser(authorizationUrl as URL)
    await first.finishAuth(code)
    await client.connect(transport())

    const { tools } = await client.listTools()
    expect(tools.map((tool) => tool.name).sort()).toEqual(['delete_order', 'echo', 'list_orders'])
    const echoed = await client.callTool({ name: 'echo', arguments: { text: 'hi through the gateway' } })
    expect(text(echoed)).toContain('hi through the gateway')
    // The demo server reports the identity headers it received: the gateway's, for this user.
    expect(text(echoed)).toContain(USERNAME)
  })

  test('a tool the token does not cover (delete_order needs write) is refused, not run', async () => {
    await expect(client.callTool({ name: 'delete_order', arguments: { id: 'ord-1001' } })).rejects.toThrow()
    const orders = await client.callTool({ name: 'list_orders', arguments: {} })
    expect(text(orders)).toContain('ord-1001')
  })

  test('the refresh token yields a new access token for the same resource', async () => {
    const before = provider.tokens()
    const metadata = await (await fetch(`${gateway.origin}/.well-known/oauth-authorization-server`)).json()
    const refreshed = await refreshAuthorization(gateway.origin, {
      metadata,
      clientInformation: { client_id: CLIENT_ID },
      refreshToken: before?.refresh_token as string,
      resource: mcpUrl(),
    })
    expect(refreshed.access_token).not.toBe(before?.access_token)
    provider.saveTokens(refreshed)
    const fresh = new Client({ name: 'gateway-e2e-refreshed', version: '1.0.0' })
    await fresh.connect(transport())
    expect(text(await fresh.callTool({ name: 'echo', arguments: { text: 'after refresh' } }))).toContain(
      'after refresh',
    )
    await fresh.close()
  })

  test("withdrawing the app's grant ends its access", async () => {
    const login = await fetch(`${gateway.origin}/auth/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'password', username: USERNAME, password: PASSWORD }),
    })
    const own = (await login.json()) as { access_token: string }
    const withdrawn = await fetch(`${gateway.origin}/auth/grants/${CLIENT_ID}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${own.access_token}` },
    })
    expect(withdrawn.status).toBe(204)
    const after = await fetch(mcpUrl(), {
      method: 'POST',
      headers: {
        authorization: `Bearer ${provider.tokens()?.access_token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    })
    expect(after.status).toBe(401)
    expect(after.headers.get('www-authenticate')).toContain('resource_metadata=')
  })
})

describe('an MCP client that registers itself (RFC 7591)', () => {
  test('the SDK registers at the advertised endpoint, then signs in and calls a tool', async () => {
    let url: URL | undefined
    const self = new InMemoryOAuthProvider(
      receiver.redirectUrl,
      {
        client_name: 'Self-registered MCP client',
        redirect_uris: [receiver.redirectUrl],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
      },
      (at) => {
        url = at
      },
    )
    const selfClient = new Client({ name: 'gateway-e2e-dcr', version: '1.0.0' })
    const first = new StreamableHTTPClientTransport(mcpUrl(), { authProvider: self })
    await expect(selfClient.connect(first)).rejects.toBeInstanceOf(UnauthorizedError)
    const registered = self.clientInformation()
    expect(registered?.client_id).toBeTruthy()
    expect(registered?.client_id).not.toBe(CLIENT_ID)
    expect(url?.searchParams.get('client_id')).toBe(registered?.client_id)
    const code = receiver.code(self.expectedState, 60_000)
    await page.goto((url as URL).href)
    if (new URL(page.url()).pathname === '/auth/login') {
      await page.getByLabel(/user ?name/i).fill(USERNAME)
      await page.getByLabel(/^password$/i).fill(PASSWORD)
      await page.getByRole('button', { name: /sign in/i }).click()
    }
    // The consent page warns that nobody vetted this app.
    await page.waitForURL((at) => at.pathname === '/auth/authorize')
    expect((await page.locator('main').textContent()) ?? '').toContain('registered itself')
    await page.getByRole('button', { name: 'Allow' }).click()
    await first.finishAuth(await code)
    await selfClient.connect(new StreamableHTTPClientTransport(mcpUrl(), { authProvider: self }))
    const echoed = await selfClient.callTool({ name: 'echo', arguments: { text: 'registered myself' } })
    expect(text(echoed)).toContain('registered myself')
    await selfClient.close()
  })
})

/** A provider whose client_id is the URL of its metadata document (the SDK then registers nothing). */
class DocumentClientProvider extends InMemoryOAuthProvider {
  constructor(
    readonly clientMetadataUrl: string,
    ...rest: ConstructorParameters<typeof InMemoryOAuthProvider>
  ) {
    super(...rest)
  }
}

describe('an MCP client known by its Client ID Metadata Document', () => {
  test('the gateway fetches the https document, shows its host on consent, and the client calls a tool', async () => {
    const documentUrl = `${documents.origin}/mcp-client.json`
    documents.serveJson('/mcp-client.json', {
      client_id: documentUrl,
      client_name: 'Document MCP client',
      redirect_uris: [receiver.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    })
    let url: URL | undefined
    const viaDocument = new DocumentClientProvider(
      documentUrl,
      receiver.redirectUrl,
      { client_name: 'Document MCP client', redirect_uris: [receiver.redirectUrl] },
      (at) => {
        url = at
      },
    )
    const documentClient = new Client({ name: 'gateway-e2e-cimd', version: '1.0.0' })
    const first = new StreamableHTTPClientTransport(mcpUrl(), { authProvider: viaDocument })
    await expect(documentClient.connect(first)).rejects.toBeInstanceOf(UnauthorizedError)
    expect(url?.searchParams.get('client_id')).toBe(documentUrl)
    const code = receiver.code(viaDocument.expectedState, 60_000)
    await page.goto((url as URL).href)
    if (new URL(page.url()).pathname === '/auth/login') {
      await page.getByLabel(/user ?name/i).fill(USERNAME)
      await page.getByLabel(/^password$/i).fill(PASSWORD)
      await page.getByRole('button', { name: /sign in/i }).click()
    }
    await page.waitForURL((at) => at.pathname === '/auth/authorize')
    const consent = (await page.locator('main').textContent()) ?? ''
    expect(consent).toContain(documents.host)
    await page.getByRole('button', { name: 'Allow' }).click()
    await first.finishAuth(await code)
    await documentClient.connect(new StreamableHTTPClientTransport(mcpUrl(), { authProvider: viaDocument }))
    const echoed = await documentClient.callTool({
      name: 'echo',
      arguments: { text: 'known by my document' },
    })
    expect(text(echoed)).toContain('known by my document')
    expect(documents.hits('/mcp-client.json')).toBeGreaterThanOrEqual(1)
    await documentClient.close()
  })
})
