/// <reference types="vite/client" />
import { describe, expect, it } from 'vitest'
import { GATEWAY_COOKIES } from './response'

// Every module's source, as text: the cookie names the gateway sets are string literals there.
const sources = import.meta.glob<string>(['../**/*.ts', '../**/*.tsx', '!../**/*.test.ts'], {
  query: '?raw',
  import: 'default',
  eager: true,
})

describe('the gateway cookies kept from upstreams', () => {
  it('include every gw_ cookie the source names, under both spellings', () => {
    const named = new Set<string>()
    for (const text of Object.values(sources)) {
      for (const match of text.matchAll(/'(gw_[a-z_]+)'/g)) named.add(match[1] as string)
    }
    // The sign-in cookies found so far; a new one joins this list and GATEWAY_COOKIES together.
    expect([...named].sort()).toEqual(
      ['gw_csrf', 'gw_device', 'gw_email_link', 'gw_flow', 'gw_pending', 'gw_session', 'gw_webauthn'].sort(),
    )
    for (const name of named) {
      expect(GATEWAY_COOKIES.has(name), name).toBe(true)
      expect(GATEWAY_COOKIES.has(`__Host-${name}`), `__Host-${name}`).toBe(true)
    }
  })
})
