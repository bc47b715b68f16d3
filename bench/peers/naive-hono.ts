/**
 * Peer: the gateway a Hono user writes in ten minutes, following the hono/jwt docs: verify the
 * bearer token (typ, iss, aud, exp, nbf, iat) on every request (no cache, no revocation, no route table, no header hygiene, no
 * assertion) and fetch the upstream. It verifies the same ES256 tokens with the same public key.
 */
import { Hono } from 'hono'
import { jwt } from 'hono/jwt'

interface Env {
  UPSTREAM_URL: string
  /** The gateway's public signing key as a JWK (JSON text). */
  PUBLIC_JWK: string
  ISSUER: string
  AUDIENCE: string
}

const app = new Hono<{ Bindings: Env }>()

app.use('/api/*', (c, next) =>
  jwt({
    secret: JSON.parse(c.env.PUBLIC_JWK),
    alg: 'ES256',
    verification: { typ: 'at+jwt', iss: c.env.ISSUER, aud: c.env.AUDIENCE },
  })(c, next),
)

app.all('/api/*', (c) => {
  const url = new URL(c.req.url)
  return fetch(c.env.UPSTREAM_URL + url.pathname + url.search, c.req.raw)
})

export default app
