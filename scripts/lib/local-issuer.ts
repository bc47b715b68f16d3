/**
 * The ISSUER of `npm start`: by default `http://127.0.0.1:$PORT` (CONTRACT.md). An IP address can
 * never be a WebAuthn RP ID, so for passkeys a developer sets `ISSUER=http://localhost:<port>`;
 * any loopback host is accepted (localhost, 127.0.0.0/8, [::1]), nothing else: the gateway still
 * listens on 127.0.0.1 only, and ISSUER must be where a browser on this machine reaches it.
 */
export interface LocalIssuer {
  issuer: string
  port: number
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i

export function localIssuer(
  env: { ISSUER?: string; PORT?: string },
  parsePort: (value?: string) => number,
): LocalIssuer {
  const value = env.ISSUER
  if (value === undefined || value === '') {
    const port = parsePort(env.PORT)
    return { issuer: `http://127.0.0.1:${port}`, port }
  }
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new Error(`ISSUER must be a URL such as http://localhost:8787 (got "${value}")`)
  }
  const plain = url.pathname === '/' && !url.search && !url.hash && !url.username && !url.password
  if (url.protocol !== 'http:' || !LOOPBACK.test(url.hostname) || url.port === '' || !plain)
    throw new Error(
      `ISSUER for npm start must be http://localhost:<port> or another loopback origin with a port (got "${value}")`,
    )
  const port = Number(url.port)
  if (env.PORT !== undefined && env.PORT !== '' && parsePort(env.PORT) !== port)
    throw new Error(`ISSUER's port (${port}) and PORT (${env.PORT}) differ: set one of them`)
  return { issuer: url.origin, port }
}
