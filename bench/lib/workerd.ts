import { mkdir, writeFile } from 'node:fs/promises'
import { basename, join, relative } from 'node:path'
import { WORK_DIR } from './paths'
import { type Service, startService, waitForPorts } from './processes'

/** A binding of a Worker under raw workerd; large values are written to files and embedded. */
export type Binding =
  | { name: string; text: string }
  | { name: string; json: unknown }
  /** A KV namespace served by the named Worker (the KV HTTP protocol). */
  | { name: string; kv: string }
  /** D1 through workerd's own client module, its queries sent to the named Worker. */
  | { name: string; d1: string }
  | { name: string; durableObject: string }
  /**
   * A Workers Rate Limiting binding (`[[ratelimits]]`): the bundled module (an ES module exporting
   * the wrapping function, bench/workers/ratelimit-binding.ts) around the entry's limit and period.
   */
  | { name: string; ratelimit: RateLimitBinding }

export interface RateLimitBinding {
  module: string
  namespace: string
  limit: number
  period: number
  counting: 'sliding' | 'fixed'
}

export interface WorkerService {
  name: string
  /** Path of the bundled ES module. */
  module: string
  compatibilityDate: string
  compatibilityFlags?: string[]
  bindings?: Binding[]
  /** Outbound fetch may reach loopback (the upstream, the IdP's JWKS). */
  network?: boolean
  /** One Durable Object class with SQLite storage on local disk. */
  sqliteObject?: { className: string; directory: string }
}

export interface Listener {
  service: string
  port: number
}

const CONFIG_DIR = join(WORK_DIR, 'workerd')
const NETWORK_SERVICE = 'loopback-network'
/** The wrapped module of rate-limit bindings, loaded as a workerd extension (internal module). */
const RATELIMIT_MODULE = 'bench-internal:ratelimit'

function quote(value: string): string {
  return JSON.stringify(value)
}

async function embed(service: string, binding: string, content: string, ext: string): Promise<string> {
  const file = join(CONFIG_DIR, `${service}.${binding}.${ext}`)
  await writeFile(file, content)
  return `embed ${quote(relative(CONFIG_DIR, file))}`
}

async function bindingEntry(service: string, binding: Binding): Promise<string> {
  const name = `name = ${quote(binding.name)}`
  if ('text' in binding) return `(${name}, text = ${await embed(service, binding.name, binding.text, 'txt')})`
  if ('json' in binding)
    return `(${name}, json = ${await embed(service, binding.name, JSON.stringify(binding.json), 'json')})`
  if ('kv' in binding) return `(${name}, kvNamespace = ${quote(binding.kv)})`
  if ('d1' in binding)
    return `(${name}, wrapped = (moduleName = "cloudflare-internal:d1-api", innerBindings = [(name = "fetcher", service = ${quote(binding.d1)})]))`
  if ('ratelimit' in binding) {
    const { namespace, limit, period, counting } = binding.ratelimit
    const inner = [
      `(name = "namespaceId", json = ${quote(JSON.stringify(namespace))})`,
      `(name = "limit", json = "${limit}")`,
      `(name = "period", json = "${period}")`,
      `(name = "counting", json = ${quote(JSON.stringify(counting))})`,
    ]
    return `(${name}, wrapped = (moduleName = ${quote(RATELIMIT_MODULE)}, innerBindings = [${inner.join(', ')}]))`
  }
  return `(${name}, durableObjectNamespace = ${quote(binding.durableObject)})`
}

async function workerEntry(worker: WorkerService): Promise<string[]> {
  const bindings = await Promise.all(
    (worker.bindings ?? []).map((binding) => bindingEntry(worker.name, binding)),
  )
  const fields = [
    `modules = [(name = ${quote(basename(worker.module))}, esModule = embed ${quote(relative(CONFIG_DIR, worker.module))})]`,
    `compatibilityDate = ${quote(worker.compatibilityDate)}`,
    `compatibilityFlags = [${(worker.compatibilityFlags ?? []).map(quote).join(', ')}]`,
    `bindings = [${bindings.join(', ')}]`,
  ]
  if (worker.network) fields.push(`globalOutbound = ${quote(NETWORK_SERVICE)}`)
  const entries = [`(name = ${quote(worker.name)}, worker = (${fields.join(',\n      ')}))`]
  if (worker.sqliteObject) {
    const disk = `${worker.name}-disk`
    fields.push(
      `durableObjectNamespaces = [(className = ${quote(worker.sqliteObject.className)}, uniqueKey = ${quote(`bench-${worker.name}`)}, enableSql = true)]`,
      `durableObjectStorage = (localDisk = ${quote(disk)})`,
    )
    entries[0] = `(name = ${quote(worker.name)}, worker = (${fields.join(',\n      ')}))`
    entries.push(
      `(name = ${quote(disk)}, disk = (path = ${quote(worker.sqliteObject.directory)}, writable = true))`,
    )
  }
  return entries
}

/** Writes one workerd config with every Worker of the run, each on its own loopback socket. */
export async function writeWorkerdConfig(
  workers: WorkerService[],
  listeners: Listener[],
  name = 'bench',
  /** Services of another process, reached over loopback HTTP (the storm's D1). */
  externals: Listener[] = [],
): Promise<string> {
  await mkdir(CONFIG_DIR, { recursive: true })
  const services = (await Promise.all(workers.map(workerEntry))).flat()
  services.push(`(name = ${quote(NETWORK_SERVICE)}, network = (allow = ["public", "private", "local"]))`)
  for (const external of externals)
    services.push(
      `(name = ${quote(external.service)}, external = (address = "127.0.0.1:${external.port}", http = ()))`,
    )
  const sockets = listeners.map(
    (listener) =>
      `(name = ${quote(`${listener.service}-${listener.port}`)}, address = "127.0.0.1:${listener.port}", http = (), service = ${quote(listener.service)})`,
  )
  const ratelimitModule = workers
    .flatMap((worker) => worker.bindings ?? [])
    .find((binding) => 'ratelimit' in binding)
  const extensions =
    ratelimitModule && 'ratelimit' in ratelimitModule
      ? `,
  extensions = [(modules = [(name = ${quote(RATELIMIT_MODULE)}, internal = true, esModule = embed ${quote(relative(CONFIG_DIR, ratelimitModule.ratelimit.module))})])]`
      : ''
  const text = `# Generated by bench/run.ts for one benchmark run.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    ${services.join(',\n    ')}
  ],
  sockets = [
    ${sockets.join(',\n    ')}
  ]${extensions}
);
`
  const file = join(CONFIG_DIR, `${name}.capnp`)
  await writeFile(file, text)
  return file
}

export async function startWorkerd(
  binary: string,
  configFile: string,
  ports: number[],
  inspectorPort?: number,
  serviceName = 'workerd',
): Promise<Service> {
  const args = ['serve', configFile, '--verbose']
  if (inspectorPort !== undefined) args.push(`--inspector-addr=127.0.0.1:${inspectorPort}`)
  const service = startService(serviceName, binary, args)
  await waitForPorts(service, ports, 60_000)
  return service
}
