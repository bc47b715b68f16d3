/**
 * An https server on 127.0.0.1 with a throwaway CA, for what must be fetched over https by the
 * gateway in e2e tests (a Client ID Metadata Document: the MCP SDK insists on an https URL). The
 * CA goes to the gateway through NODE_EXTRA_CA_CERTS, which `npm start` passes on to wrangler dev
 * and workerd; nothing else trusts it, and it lives in a temporary directory.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

export interface HttpsStandIn {
  origin: string
  /** host:port, as the gateway's local-only allow-list names it. */
  host: string
  /** The CA certificate file (PEM) for NODE_EXTRA_CA_CERTS. */
  caFile: string
  /** Serves `body` as `application/json` at `path` from now on. */
  serveJson(path: string, body: unknown): void
  /** How many times `path` was fetched. */
  hits(path: string): number
  close(): Promise<void>
}

async function makeCertificates(dir: string): Promise<{ caFile: string; key: string; cert: string }> {
  const file = (name: string) => join(dir, name)
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=gateway e2e throwaway CA',
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.pem'),
  ])
  await writeFile(file('leaf.ext'), 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n')
  await run('openssl', [
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    file('leaf.key'),
    '-out',
    file('leaf.csr'),
  ])
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    file('leaf.csr'),
    '-CA',
    file('ca.pem'),
    '-CAkey',
    file('ca.key'),
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    file('leaf.ext'),
    '-out',
    file('leaf.pem'),
  ])
  return {
    caFile: file('ca.pem'),
    key: await readFile(file('leaf.key'), 'utf8'),
    cert: await readFile(file('leaf.pem'), 'utf8'),
  }
}

export async function startHttpsStandIn(): Promise<HttpsStandIn> {
  const dir = await mkdtemp(join(tmpdir(), 'gateway-https-stand-in-'))
  const { caFile, key, cert } = await makeCertificates(dir)
  const documents = new Map<string, string>()
  const counts = new Map<string, number>()
  const server: Server = createServer({ key, cert }, (request, response) => {
    const path = new URL(request.url ?? '/', 'https://127.0.0.1').pathname
    const body = documents.get(path)
    if (request.method !== 'GET' || body === undefined) {
      response.writeHead(404).end()
      return
    }
    counts.set(path, (counts.get(path) ?? 0) + 1)
    response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' }).end(body)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const { port } = server.address() as AddressInfo
  return {
    origin: `https://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    caFile,
    serveJson(path, body) {
      documents.set(path, JSON.stringify(body))
    },
    hits: (path) => counts.get(path) ?? 0,
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await rm(dir, { recursive: true, force: true })
    },
  }
}
