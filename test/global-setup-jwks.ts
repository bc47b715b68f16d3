import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { TestProject } from 'vitest/node'

/**
 * A tiny key server on loopback for the workerd tests of external issuers: workerd can only reach
 * servers started here. Tests publish any JSON document (a JWKS, a discovery document) and then
 * count how often the gateway fetched it:
 *   PUT /docs/<id>    body: the JSON to serve        GET /docs/<id>   the document (404 if none)
 *   GET /hits/<id>    {"hits": n}                    DELETE /docs/<id> answer 503 from then on
 */
async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of request) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

export default async function setup(project: TestProject) {
  const docs = new Map<string, string | null>()
  const hits = new Map<string, number>()

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const [, kind, id = ''] = (request.url ?? '/').split('/')
    if (kind === 'hits' && request.method === 'GET') {
      response.writeHead(200, { 'content-type': 'application/json' })
      response.end(JSON.stringify({ hits: hits.get(id) ?? 0 }))
      return
    }
    if (kind !== 'docs') {
      response.writeHead(404).end()
      return
    }
    if (request.method === 'PUT') {
      docs.set(id, await readBody(request))
      response.writeHead(204).end()
    } else if (request.method === 'DELETE') {
      docs.set(id, null)
      response.writeHead(204).end()
    } else {
      hits.set(id, (hits.get(id) ?? 0) + 1)
      const doc = docs.get(id)
      if (doc === undefined) response.writeHead(404).end()
      else if (doc === null) response.writeHead(503).end()
      else response.writeHead(200, { 'content-type': 'application/json' }).end(doc)
    }
  }

  const server = createServer((request, response) => {
    handle(request, response).catch(() => response.writeHead(500).end())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  project.provide('jwksOrigin', `http://127.0.0.1:${(server.address() as AddressInfo).port}`)
  return async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

declare module 'vitest' {
  export interface ProvidedContext {
    jwksOrigin: string
  }
}
