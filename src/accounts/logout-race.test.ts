import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { bearer, callApi, createUser, login, type Tokens, tokenRequest } from '../../test/support/accounts'
import { fetchWithEnv, gatewayFetch } from '../../test/support/gateway'
import { type DbCall, spyDb } from '../../test/support/storage-spies'

// Logout-all racing refreshes: whatever the interleaving, no access or refresh token handed out
// by a refresh that ran concurrently may survive the logout (src/sessions/revoke-subject.ts).

const STRICT_ROUTES = [{ path: '/api', upstream: 'UPSTREAM_URL', revocation: 'strict' }]
const REJECTED = { status: 401, forwarded: 0 }
const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

/** Every token a test obtained, from logins and refreshes alike. */
class Obtained {
  access: string[] = []
  refresh: string[] = []
  add(tokens: Tokens): void {
    this.access.push(tokens.access_token)
    if (tokens.refresh_token) this.refresh.push(tokens.refresh_token)
  }
}

async function expectNoneSurvive(obtained: Obtained): Promise<void> {
  const strict = (path: string, init: RequestInit) => fetchWithEnv({ ROUTES: STRICT_ROUTES }, path, init)
  for (const token of obtained.access) {
    expect(await callApi(token)).toEqual(REJECTED)
    expect(await callApi(token, strict)).toEqual(REJECTED)
  }
  for (const token of obtained.refresh) {
    const response = await tokenRequest({ grant_type: 'refresh_token', refresh_token: token })
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ error: 'invalid_grant' })
  }
}

/**
 * The real D1, holding the first execution that `matches` (given the call and its 1-based number
 * among this request's executions) once it has completed: `reached` resolves then, and the request
 * goes on only after `release()`. This decides the interleaving exactly, instead of hoping a loop
 * hits it.
 */
function holdAfter(matches: (call: DbCall, count: number) => boolean) {
  let reach: () => void = () => undefined
  let release: () => void = () => undefined
  const reached = new Promise<void>((resolve) => {
    reach = resolve
  })
  const released = new Promise<void>((resolve) => {
    release = resolve
  })
  let armed = true
  let count = 0
  const { db } = spyDb(env.DB, {
    afterExecution: async (call) => {
      count++
      if (!armed || !matches(call, count)) return
      armed = false
      reach()
      await released
    },
  })
  return { db, reached, release }
}

function refreshInit(refreshToken: string): RequestInit {
  return {
    method: 'POST',
    headers: FORM,
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }).toString(),
  }
}

function logoutAllInit(accessToken: string): RequestInit {
  return { method: 'POST', headers: bearer(accessToken) }
}

async function signIn(username: string, obtained: Obtained): Promise<Tokens & { refresh_token: string }> {
  const tokens = await login(username)
  obtained.add(tokens)
  if (!tokens.refresh_token) throw new Error('no refresh token')
  return { ...tokens, refresh_token: tokens.refresh_token }
}

describe('logout-all racing a refresh', () => {
  // A refresh makes five D1 executions: token lookup, user lookup, rotation batch, access-token
  // record, final check. Six sessions of one user refresh at once, each held after a different
  // one of them (the first not at all: it starts after the logout), while one logout-all lands.
  it('six sessions refreshing at once, each held at a different step while logout-all lands: nothing survives', async () => {
    await createUser('race-steps')
    const obtained = new Obtained()
    // One after another: more than SETTINGS.throttle.account_backoff_after (5) logins of one account
    // in flight at once are throttled by design (src/users/throttle.ts), and the race under test
    // is the refresh, not the logins.
    const sessions: Awaited<ReturnType<typeof signIn>>[] = []
    for (let i = 0; i < 6; i++) sessions.push(await signIn('race-steps', obtained))
    const held = sessions.slice(1).map((session, index) => {
      const hold = holdAfter((_call, count) => count === index + 1)
      return {
        hold,
        refreshing: fetchWithEnv({ DB: hold.db }, '/auth/token', refreshInit(session.refresh_token)),
      }
    })
    // Held, or finished if it makes fewer executions than its step number.
    await Promise.all(held.map(({ hold, refreshing }) => Promise.race([hold.reached, refreshing])))
    const [first] = sessions
    if (!first) throw new Error('no session')
    expect((await gatewayFetch('/auth/logout-all', logoutAllInit(first.access_token))).status).toBe(204)
    const late = tokenRequest({ grant_type: 'refresh_token', refresh_token: first.refresh_token })
    for (const { hold } of held) hold.release()
    const responses = await Promise.all([late, ...held.map(({ refreshing }) => refreshing)])
    for (const [index, response] of responses.entries()) {
      const body = (await response.json()) as Tokens & { error?: string }
      if (response.status === 200) obtained.add(body)
      // Held after its final check (the fifth step), a refresh had passed it before the logout:
      // its tokens came out, and must be dead all the same. Every other one returns nothing.
      if (index < 5)
        expect({ index, status: response.status, error: body.error }).toEqual({
          index,
          status: 400,
          error: 'invalid_grant',
        })
    }
    await expectNoneSurvive(obtained)
  })

  for (const step of [1, 2]) {
    it(`refresh chains that run whole while logout-all is held after its write #${step} hand out nothing that works`, async () => {
      const username = `race-logout-${step}`
      await createUser(username)
      const obtained = new Obtained()
      const sessions = await Promise.all(Array.from({ length: 3 }, () => signIn(username, obtained)))
      let writes = 0
      const hold = holdAfter(
        (call) => (call.method === 'run' || call.method === 'batch') && ++writes === step,
      )
      const [first] = sessions
      if (!first) throw new Error('no session')
      const loggingOut = fetchWithEnv({ DB: hold.db }, '/auth/logout-all', logoutAllInit(first.access_token))
      await hold.reached
      await Promise.all(
        sessions.map(async (session) => {
          let current = session.refresh_token
          for (let rotation = 0; rotation < 3; rotation++) {
            const response = await tokenRequest({ grant_type: 'refresh_token', refresh_token: current })
            if (response.status !== 200) return
            const tokens = (await response.json()) as Tokens
            obtained.add(tokens)
            current = tokens.refresh_token ?? ''
          }
        }),
      )
      hold.release()
      expect((await loggingOut).status).toBe(204)
      await expectNoneSurvive(obtained)
    })
  }

  // Real concurrency, no held steps: chains out of step keep rotations in flight while logout-all
  // lands. Which interleaving it hits varies from run to run; the held tests above pin each one.
  it('several sessions refreshing in a loop while logout-all lands: no token from any of them survives', async () => {
    await createUser('race-loop')
    const obtained = new Obtained()
    const sessions = await Promise.all(Array.from({ length: 4 }, () => signIn('race-loop', obtained)))
    let refreshes = 0
    let started: () => void = () => undefined
    const enoughRefreshes = new Promise<void>((resolve) => {
      started = resolve
    })
    const chains = sessions.map(async (session, index) => {
      await scheduler.wait(index * 25)
      let current = session.refresh_token
      for (let step = 0; step < 200; step++) {
        const response = await tokenRequest({ grant_type: 'refresh_token', refresh_token: current })
        if (response.status !== 200) {
          expect(await response.json()).toMatchObject({ error: 'invalid_grant' })
          return
        }
        const tokens = (await response.json()) as Tokens
        obtained.add(tokens)
        current = tokens.refresh_token ?? ''
        if (++refreshes === 8) started()
      }
      throw new Error('the chain was never stopped by logout-all')
    })
    await enoughRefreshes
    const [first] = sessions
    if (!first) throw new Error('no session')
    expect((await gatewayFetch('/auth/logout-all', logoutAllInit(first.access_token))).status).toBe(204)
    await Promise.all(chains)
    await expectNoneSurvive(obtained)
  })
})
