import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { WORK_DIR } from './paths'
import { freePort, hasProgram, runCommand, type Service, startService, waitForPorts } from './processes'

export interface HaproxyPeer {
  port: number
  version: string
  service: Service
}

export interface HaproxyOptions {
  upstreamPort: number
  publicPem: string
  issuer: string
  audience: string
}

/**
 * The C peer: HAProxy's jwt_verify (ES256, the same public key) on every request, with the same
 * iss/aud/exp checks, the Authorization header dropped, then a proxy hop to the same upstream. One
 * thread, like workerd.
 */
function config(port: number, keyFile: string, options: HaproxyOptions): string {
  return `global
  nbthread 1
  maxconn 4096

defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  http-reuse always

frontend gateway
  bind 127.0.0.1:${port}
  http-request deny status 401 unless { req.hdr(authorization) -m beg -i "bearer " }
  http-request set-var(txn.bearer) http_auth_bearer
  http-request set-var(txn.alg) var(txn.bearer),jwt_header_query('$.alg')
  http-request set-var(txn.iss) var(txn.bearer),jwt_payload_query('$.iss')
  http-request set-var(txn.aud) var(txn.bearer),jwt_payload_query('$.aud')
  http-request set-var(txn.exp) var(txn.bearer),jwt_payload_query('$.exp','int')
  http-request set-var(txn.now) date()
  http-request deny status 401 unless { var(txn.alg) -m str ES256 }
  http-request deny status 401 unless { var(txn.iss) -m str ${options.issuer} }
  http-request deny status 401 unless { var(txn.aud) -m str ${options.audience} }
  http-request deny status 401 unless { var(txn.bearer),jwt_verify(txn.alg,"${keyFile}") -m int 1 }
  http-request deny status 401 if { var(txn.exp),sub(txn.now) -m int lt 0 }
  http-request del-header authorization
  default_backend upstream

backend upstream
  server upstream 127.0.0.1:${options.upstreamPort}
`
}

/** Starts HAProxy when installed; undefined (the scenario is skipped) otherwise. */
export async function startHaproxy(options: HaproxyOptions): Promise<HaproxyPeer | undefined> {
  if (!(await hasProgram('haproxy'))) return undefined
  const port = await freePort()
  const keyFile = join(WORK_DIR, 'gateway-public.pem')
  const configFile = join(WORK_DIR, 'haproxy.cfg')
  await writeFile(keyFile, options.publicPem)
  await writeFile(configFile, config(port, keyFile, options))
  const banner = await runCommand('haproxy', ['-v'])
  const service = startService('haproxy', 'haproxy', ['-db', '-f', configFile])
  await waitForPorts(service, [port])
  return { port, version: /HAProxy version \S+/.exec(banner)?.[0] ?? 'haproxy', service }
}
