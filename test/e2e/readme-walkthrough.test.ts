// Time budget: ~20 s on a 2-core machine (one gateway; the README's curl steps).
// Measured 16 s at load 2.
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { devVar } from '../../scripts/lib/dev-vars'
import { assertValidDataKeySet, assertValidKeySet } from '../../scripts/lib/key-set'
import { type RunningGateway, startGateway } from './support/gateway'
import { PROJECT_ROOT } from './support/project-copy'
import {
  expectStepOutcomes,
  extractWalkthrough,
  parseSteps,
  runWalkthrough,
  type StepResult,
  type WalkthroughStep,
} from './support/walkthrough'

// The README's walkthrough against a gateway started exactly as `npm start` (no UPSTREAM_URL, so
// it starts its demo upstream), in a fresh copy of the project on a free port, with no local state:
// `npm start` applies every migration itself, as on a fresh clone.
let gateway: RunningGateway
let steps: WalkthroughStep[]
let results: StepResult[]

beforeAll(async () => {
  steps = parseSteps(extractWalkthrough(await readFile(join(PROJECT_ROOT, 'README.md'), 'utf8')))
  gateway = await startGateway({ freshState: true })
  results = await runWalkthrough(steps, { ...process.env, GATEWAY: gateway.origin }, 180_000, gateway.dir)
})

afterAll(async () => {
  await gateway?.stop()
})

function resultOf(step: WalkthroughStep): StepResult {
  const result = results.find((candidate) => candidate.step.number === step.number)
  if (!result) throw new Error(`step ${step.number} did not run`)
  return result
}

describe('npm start on a fresh checkout', () => {
  test('creates .dev.vars (owner-only) with signing and data keys the Worker accepts', async () => {
    const path = join(gateway.dir, '.dev.vars')
    const text = await readFile(path, 'utf8')
    const value = devVar(text, 'SIGNING_KEYS')
    expect(value).toBeDefined()
    const set = await assertValidKeySet(value as string)
    expect(set.keys).toHaveLength(1)
    expect(set.keys[0]).toMatchObject({ alg: 'ES256', kty: 'EC', crv: 'P-256' })
    const data = await assertValidDataKeySet(devVar(text, 'DATA_KEYS') ?? '')
    expect(data.keys).toEqual([expect.objectContaining({ kty: 'oct', alg: 'A256GCM' })])
    expect((await stat(path)).mode & 0o077).toBe(0)
  })

  test('opens registration for local development only, in .dev.vars (wrangler.toml ships it off)', async () => {
    const text = await readFile(join(gateway.dir, '.dev.vars'), 'utf8')
    expect(devVar(text, 'REGISTRATION')).toBe('on')
    expect(text).toMatch(/# Local development only: .*\n.*REGISTRATION='on'/)
  })

  test('starts the demo upstream and points the gateway at it', async () => {
    const response = await fetch(`${gateway.origin}/api/public/where`)
    expect(response.status).toBe(200)
    const echoed = (await response.json()) as { path: string; headers: Record<string, string> }
    expect(echoed.path).toBe('/api/public/where')
    expect(echoed.headers.host).toBe(new URL(gateway.upstreamOrigin).host)
  })

  test('prints a banner with the gateway URL once it is ready', async () => {
    expect(gateway.output()).toContain(`gateway   ${gateway.origin}`)
  })
})

describe('the README walkthrough', () => {
  test('has steps, and every step says what it expects', () => {
    expect(steps.length).toBeGreaterThanOrEqual(5)
    for (const step of steps.slice(1)) expect(step.expectations, step.source).not.toEqual([])
  })

  test('each step has the outcome its "# expect" lines state', () => {
    expect(results).toHaveLength(steps.length)
    expectStepOutcomes(results)
  })

  test('the public echo shows no identity the client tried to claim', () => {
    const spoof = steps.find((step) => step.source.includes('X-Auth-User: admin'))
    expect(spoof).toBeDefined()
    const echoed = JSON.parse(resultOf(spoof as WalkthroughStep).stdout) as {
      headers: Record<string, string>
    }
    expect(echoed.headers['x-auth-user']).toBeUndefined()
    expect(echoed.headers['x-auth-roles']).toBeUndefined()
  })

  test('the 401 carries the contract error body and a request id', () => {
    const denied = steps.find((step) => step.source.includes('/api/me'))
    const { stdout } = resultOf(denied as WalkthroughStep)
    const body = JSON.parse(stdout.slice(stdout.indexOf('\r\n\r\n') + 4)) as Record<string, string>
    expect(Object.keys(body).sort()).toEqual(['error', 'error_description', 'request_id'])
    expect(stdout.toLowerCase()).toContain(`x-request-id: ${body.request_id}`)
  })
})
