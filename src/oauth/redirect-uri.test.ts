import { describe, expect, it } from 'vitest'
import { checkRedirectUri, matchRedirectUri } from './redirect-uri'

describe('registering a redirect URI', () => {
  it.each([
    'https://app.example.com/callback',
    'https://app.example.com/callback?tenant=a',
    'https://app.example.com:8443/cb',
    'http://127.0.0.1/callback',
    'http://127.0.0.1:8080/callback',
    'http://[::1]:5000/cb',
    'http://localhost:3000/cb',
    'com.example.app:/oauth2redirect',
    'com.example.app://callback/path',
  ])('accepts %s', (uri) => {
    expect(checkRedirectUri(uri)).toEqual({ ok: true })
  })

  it.each([
    ['a fragment', 'https://app.example.com/cb#frag'],
    ['an empty fragment', 'https://app.example.com/cb#'],
    ['userinfo', 'https://user@app.example.com/cb'],
    ['userinfo with password', 'https://user:pw@app.example.com/cb'],
    ['userinfo that hides the real host', 'https://app.example.com@evil.example/cb'],
    ['plain http on a public host', 'http://app.example.com/cb'],
    ['plain http on a look-alike of loopback', 'http://127.0.0.1.evil.example/cb'],
    ['javascript:', 'javascript:alert(1)'],
    ['data:', 'data:text/html,hi'],
    ['file:', 'file:///etc/passwd'],
    ['a private scheme that is not reverse-DNS', 'myapp:/callback'],
    ['a relative reference', '/callback'],
    ['a non-canonical host case', 'https://APP.example.com/cb'],
    ['a path with dot segments', 'https://app.example.com/a/../cb'],
    ['an encoded dot segment', 'https://app.example.com/a/%2e%2e/cb'],
    ['a missing path slash', 'https://app.example.com'],
    ['whitespace', 'https://app.example.com/c b'],
    ['a backslash', 'https://app.example.com\\@evil.example/cb'],
    ['an out-of-range port', 'http://127.0.0.1:99999/cb'],
    ['the default port spelled out', 'https://app.example.com:443/cb'],
    ['an empty string', ''],
  ])('refuses %s (%s)', (_, uri) => {
    expect(checkRedirectUri(uri).ok).toBe(false)
  })
})

describe('matching a presented redirect URI against the registered ones', () => {
  const registered = ['https://app.example.com/cb', 'http://127.0.0.1/native', 'http://[::1]:7000/v6']

  it('matches the exact registered string', () => {
    expect(matchRedirectUri('https://app.example.com/cb', registered)).toBe(true)
  })

  it.each([
    ['a prefix of it', 'https://app.example.com/c'],
    ['an extension of its path', 'https://app.example.com/cb/extra'],
    ['a suffix added to its path', 'https://app.example.com/cbx'],
    ['a trailing slash', 'https://app.example.com/cb/'],
    ['an added query', 'https://app.example.com/cb?x=1'],
    ['a case variant of the host', 'https://APP.example.com/cb'],
    ['a case variant of the path', 'https://app.example.com/CB'],
    ['another port on a non-loopback host', 'https://app.example.com:8443/cb'],
    ['a path traversal', 'https://app.example.com/cb/../evil'],
    ['an encoded path traversal', 'https://app.example.com/cb/%2e%2e/evil'],
    ['userinfo pointing at another host', 'https://app.example.com@evil.example/cb'],
    ['userinfo in front of the host', 'https://evil@app.example.com/cb'],
    ['a fragment', 'https://app.example.com/cb#x'],
    ['the same path over http', 'http://app.example.com/cb'],
    ['a sub-domain', 'https://evil.app.example.com/cb'],
    ['a parent domain', 'https://example.com/cb'],
    ['another path on a loopback IP', 'http://127.0.0.1:5000/other'],
    ['localhost instead of the registered loopback IP', 'http://localhost:5000/native'],
    ['the other loopback IP', 'http://[::1]:5000/native'],
    ['https instead of http on loopback', 'https://127.0.0.1:5000/native'],
    ['userinfo on a loopback IP', 'http://user@127.0.0.1:5000/native'],
    ['a traversal on a loopback IP', 'http://127.0.0.1:5000/native/../native'],
  ])('refuses %s (%s)', (_, presented) => {
    expect(matchRedirectUri(presented, registered)).toBe(false)
  })

  it('accepts any port on a registered loopback IP redirect (RFC 8252 §7.3)', () => {
    expect(matchRedirectUri('http://127.0.0.1:51234/native', registered)).toBe(true)
    expect(matchRedirectUri('http://127.0.0.1/native', registered)).toBe(true)
    expect(matchRedirectUri('http://[::1]:61000/v6', registered)).toBe(true)
  })

  it('gives localhost no any-port leeway (it is a name, not an IP literal)', () => {
    expect(matchRedirectUri('http://localhost:4000/cb', ['http://localhost:3000/cb'])).toBe(false)
    expect(matchRedirectUri('http://localhost:3000/cb', ['http://localhost:3000/cb'])).toBe(true)
  })

  it('matches a native app scheme exactly and nothing near it', () => {
    const native = ['com.example.app:/oauth2redirect']
    expect(matchRedirectUri('com.example.app:/oauth2redirect', native)).toBe(true)
    expect(matchRedirectUri('com.example.app:/oauth2redirect/x', native)).toBe(false)
    expect(matchRedirectUri('com.example.evil:/oauth2redirect', native)).toBe(false)
  })
})
