/**
 * `npm run routes`'s commands (scripts/routes.ts runs them on the process's arguments): their own
 * module so that tests can run them in their process (test/e2e/support/cli-in-process.ts).
 */
import { writeFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { RESERVED_SEGMENTS } from '../../src/routing/reserved-segments'
import { describeError, fail, info, wantsHelp } from './cli'
import { checkOperations, type Finding } from './openapi-check'
import { loadOpenApi } from './openapi-document'
import { reservedSegmentOf, routesFromOperations } from './openapi-routes'
import { declaredOperations, type Problem, type SecurityOptions } from './openapi-security'
import { EXPLAIN_HELP, explainCommand } from './routes-explain'
import { routesToml } from './toml-fragment'

const RESERVED = RESERVED_SEGMENTS.map((segment) => `/${segment}`).join(', ')

const HELP = `Usage: npm run routes -- <command> [options]

  import-openapi <file|url>   write [[vars.ROUTES]] entries equivalent to an OpenAPI 3.0/3.1 document
      --upstream NAME         the routes' upstream: a var name or an origin (default UPSTREAM_URL)
      --prefix /api           where the gateway exposes the document's paths (default: none);
                              operations under ${RESERVED} (the gateway's
                              own) are skipped and reported unless a prefix moves them
      --default POLICY        deny (default) | authenticated | public: operations declaring no security
      --issuer NAME           an external issuer (SETTINGS.external_issuers) OAuth2/OIDC/bearer accept too
      --out FILE              write the TOML there instead of stdout
      --allow-partial         exit 0 even when some construct could not be expressed

  check <file|url>            compare the configured table (wrangler.toml) with the document
      --env NAME, --config PATH, --prefix, --default, --issuer, --upstream (only routes to it are
      listed as covering no operation), --strict (also fail on unrouted and stronger)
      Exit 1 when an operation is routed under a weaker policy than it declares.

  check-mcp <MCP server URL>  compare an MCP route's mcp_rules with the tools its server lists
      --route /mcp            which MCP route (default: the only one)
      --env NAME, --config PATH, --header 'Name: value' (sent to the server, e.g. its own auth),
      --strict (also fail when a tool the server marks destructive has no rule of its own)
      Exit 1 when a rule names a tool the server does not list. Ask the server itself (its
      upstream URL), not the gateway: the gateway would want a token.

${EXPLAIN_HELP}

Unsupported or unknown constructs are reported on stderr, never dropped silently.
`

const SHARED = {
  prefix: { type: 'string', default: '' },
  default: { type: 'string', default: 'deny' },
  issuer: { type: 'string', multiple: true, default: [] as string[] },
  upstream: { type: 'string' },
} as const

function securityOptions(values: { default: string; issuer: string[] }): SecurityOptions {
  if (!['deny', 'authenticated', 'public'].includes(values.default))
    fail('--default must be deny, authenticated or public', 2)
  return { defaultPolicy: values.default as SecurityOptions['defaultPolicy'], issuers: values.issuer }
}

function checkPrefix(prefix: string): string {
  if (prefix !== '' && !/^(\/[A-Za-z0-9._~-]+)+$/.test(prefix)) fail('--prefix must look like /api', 2)
  const reserved = prefix === '' ? undefined : reservedSegmentOf(prefix)
  if (reserved) fail(`--prefix ${prefix} lies under /${reserved}, which the gateway serves itself`, 2)
  return prefix
}

function report(problems: readonly Problem[]): void {
  for (const problem of problems)
    info(`${problem.skipped ? 'skipped' : 'unsupported'}: ${problem.at}: ${problem.message}`)
}

async function importOpenApi(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { ...SHARED, out: { type: 'string' }, 'allow-partial': { type: 'boolean' } },
    allowPositionals: true,
    strict: true,
  })
  const source = positionals[0]
  if (!source || positionals.length > 1) fail('import-openapi takes one file or URL', 2)
  const document = await loadOpenApi(source)
  const problems: Problem[] = []
  const operations = declaredOperations(document, securityOptions(values), problems)
  const routes = routesFromOperations(
    operations,
    {
      upstream: values.upstream ?? 'UPSTREAM_URL',
      prefix: checkPrefix(values.prefix),
      issuers: values.issuer,
    },
    problems,
  )
  const title = (document.info as { title?: string } | undefined)?.title ?? source
  const skipped = problems.filter((problem) => problem.skipped).length
  const toml = routesToml(routes, [
    `Routes from ${title} (${source}), by \`npm run routes -- import-openapi\`.`,
    `Operations without security: ${values.default}. Regenerate rather than edit; \`routes check\` in CI.`,
    ...(skipped > 0
      ? [`${skipped} operation(s) under the gateway's own paths got no route: re-import with --prefix.`]
      : []),
  ])
  // Ending in a newline, so `>> wrangler.toml` can be followed by more lines (and a terminal's
  // summary on stderr starts on its own line).
  const text = toml.endsWith('\n') ? toml : `${toml}\n`
  if (values.out) await writeFile(values.out, text)
  else process.stdout.write(text)
  report(problems)
  const other = problems.length - skipped
  info(
    `${operations.length} operations → ${routes.length} routes` +
      (skipped ? `, ${skipped} skipped (under the gateway's own paths)` : '') +
      (other ? `, ${other} problem(s)` : ''),
  )
  return problems.length > 0 && !values['allow-partial'] ? 1 : 0
}

function printFinding(finding: Finding): void {
  const route = finding.route ? `ROUTES[${finding.route.index}] ${finding.route.path}` : ''
  const subject = finding.operation ? `${finding.operation}${route ? ` → ${route}` : ''}` : route
  process.stdout.write(`${finding.kind.padEnd(15)} ${subject}: ${finding.detail}\n`)
}

async function check(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      ...SHARED,
      env: { type: 'string', short: 'e' },
      config: { type: 'string', short: 'c' },
      strict: { type: 'boolean' },
      all: { type: 'boolean' },
    },
    allowPositionals: true,
    strict: true,
  })
  const source = positionals[0]
  if (!source || positionals.length > 1) fail('check takes one file or URL', 2)
  // wrangler's config reader costs about 2 s of CPU to load: only `check` needs it.
  const { compileWorkerConfig } = await import('./wrangler-config')
  const config = compileWorkerConfig(values.config ?? 'wrangler.toml', values.env)
  const document = await loadOpenApi(source)
  const problems: Problem[] = []
  const operations = declaredOperations(document, securityOptions(values), problems)
  report(problems)
  const findings = checkOperations(config, operations, {
    prefix: checkPrefix(values.prefix),
    upstream: values.upstream,
    host: new URL(config.issuer).host,
  })
  for (const finding of findings) if (values.all || finding.kind !== 'same') printFinding(finding)
  const count = (kind: Finding['kind']) => findings.filter((finding) => finding.kind === kind).length
  const weaker = count('weaker') + count('different')
  info(
    `${operations.length} operations: ${count('same')} as declared, ${weaker} weaker, ${count('stronger')} stronger, ` +
      `${count('unrouted')} unrouted; ${count('uncovered_route')} route(s) cover no operation`,
  )
  if (weaker > 0) return 1
  return values.strict && findings.some((finding) => finding.kind !== 'same') ? 1 : 0
}

async function checkMcp(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      env: { type: 'string', short: 'e' },
      config: { type: 'string', short: 'c' },
      route: { type: 'string' },
      header: { type: 'string', multiple: true, default: [] as string[] },
      strict: { type: 'boolean' },
    },
    allowPositionals: true,
    strict: true,
  })
  const source = positionals[0]
  if (!source || positionals.length > 1) fail('check-mcp takes the MCP server URL', 2)
  const headers: Record<string, string> = {}
  for (const header of values.header) {
    const colon = header.indexOf(':')
    if (colon < 1) fail(`--header must look like 'Name: value'`, 2)
    headers[header.slice(0, colon).trim()] = header.slice(colon + 1).trim()
  }
  const { compileWorkerConfig } = await import('./wrangler-config')
  const { checkMcpTools, listTools, mcpRouteOf } = await import('./routes-mcp')
  const config = compileWorkerConfig(values.config ?? 'wrangler.toml', values.env)
  const route = mcpRouteOf(config, values.route)
  const findings = checkMcpTools(route, await listTools(new URL(source), headers))
  for (const finding of findings)
    process.stdout.write(`${finding.kind.padEnd(20)} ${finding.tool}: ${finding.detail}\n`)
  const count = (kind: string) => findings.filter((finding) => finding.kind === kind).length
  info(
    `ROUTES[${route.index}] ${route.path}: ${count('ruled')} tool(s) with a rule, ${count('route_rule')} under the route rule, ` +
      `${count('destructive_unruled')} destructive without a rule, ${count('unknown_tool')} rule(s) naming no tool`,
  )
  if (count('unknown_tool') > 0) return 1
  return values.strict && count('destructive_unruled') > 0 ? 1 : 0
}

/** The command on its arguments: writes to stdout/stderr, sets `process.exitCode` or exits via fail(). */
export async function runRoutes(argv: readonly string[]): Promise<void> {
  const [command, ...args] = argv
  if (!command || wantsHelp([command])) {
    process.stdout.write(HELP)
    return
  }
  if (wantsHelp(args)) {
    process.stdout.write(HELP)
    return
  }
  const commands: Record<string, (args: string[]) => Promise<number>> = {
    'import-openapi': importOpenApi,
    check,
    'check-mcp': checkMcp,
    explain: explainCommand,
  }
  const run = commands[command]
  if (!run) fail(`unknown command "${command}"\n\n${HELP}`, 2)
  try {
    process.exitCode = await run(args)
  } catch (error) {
    fail(describeError(error))
  }
}
