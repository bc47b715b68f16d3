import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { BENCH_DIR, ROOT_DIR, WORK_DIR } from './paths'
import { freePort, hasProgram, type Service, startService, waitForPorts } from './processes'

export const JWKS_PATH = '/.well-known/bench-idp/jwks.json'

export interface Upstream {
  kind: 'nginx' | 'node'
  port: number
  origin: string
  service: Service
}

function nginxConfig(port: number, jwksFile: string): string {
  const temp = join(WORK_DIR, 'nginx-temp')
  return `worker_processes 1;
daemon off;
pid ${join(WORK_DIR, 'nginx.pid')};
error_log ${join(WORK_DIR, 'nginx-error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 10000000;
  keepalive_timeout 120s;
  client_body_temp_path ${temp}/body;
  proxy_temp_path ${temp}/proxy;
  fastcgi_temp_path ${temp}/fastcgi;
  uwsgi_temp_path ${temp}/uwsgi;
  scgi_temp_path ${temp}/scgi;
  server {
    listen 127.0.0.1:${port};
    location = ${JWKS_PATH} { default_type application/json; alias ${jwksFile}; }
    location / { default_type text/plain; return 200 "ok\\n"; }
  }
}
`
}

/** nginx (one worker process) when installed, else the Node fallback. Both serve the IdP's JWKS. */
export async function startUpstream(jwks: unknown): Promise<Upstream> {
  const port = await freePort()
  const jwksFile = join(WORK_DIR, 'idp-jwks.json')
  await writeFile(jwksFile, JSON.stringify(jwks))
  let kind: Upstream['kind']
  let service: Service
  if (await hasProgram('nginx')) {
    kind = 'nginx'
    const configFile = join(WORK_DIR, 'nginx.conf')
    await mkdir(join(WORK_DIR, 'nginx-temp'), { recursive: true })
    await writeFile(configFile, nginxConfig(port, jwksFile))
    service = startService('nginx', 'nginx', [
      '-e',
      join(WORK_DIR, 'nginx-error.log'),
      '-p',
      WORK_DIR,
      '-c',
      configFile,
    ])
  } else {
    kind = 'node'
    const script = join(BENCH_DIR, 'lib', 'node-upstream.ts')
    const args = ['--import', 'tsx', script, String(port), JWKS_PATH, jwksFile]
    service = startService('node-upstream', process.execPath, args, ROOT_DIR)
  }
  await waitForPorts(service, [port])
  return { kind, port, origin: `http://127.0.0.1:${port}`, service }
}
