/**
 * The fallback upstream when nginx is not installed: a small HTTP/1.1 keep-alive server that answers
 * every request with a short 200, and serves the fake IdP's JWKS.
 * Usage: node --import tsx bench/lib/node-upstream.ts <port> <jwks-path> <jwks-file>
 */
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'

const [port, jwksPath, jwksFile] = process.argv.slice(2)
if (!port || !jwksPath || !jwksFile) throw new Error('usage: node-upstream.ts <port> <jwks-path> <jwks-file>')
const jwks = readFileSync(jwksFile)

const server = createServer((request, response) => {
  if (request.url === jwksPath) {
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': jwks.length })
    response.end(jwks)
    return
  }
  // Drain any body so the connection stays reusable.
  request.resume()
  request.once('end', () => {
    response.writeHead(200, { 'content-type': 'text/plain', 'content-length': 3 })
    response.end('ok\n')
  })
})
server.keepAliveTimeout = 60_000
server.listen(Number(port), '127.0.0.1')
