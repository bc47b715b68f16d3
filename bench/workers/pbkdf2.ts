/**
 * The CPU cost of one password check in the same runtime: GET /pbkdf2 derives 256 bits with
 * PBKDF2-SHA256 at the given iterations (the production cap is 100,000); GET / answers at once, so
 * the harness subtracts it. Timed from outside: Workers freeze the clock while code runs.
 */
const encoder = new TextEncoder()

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url)
    if (url.pathname !== '/pbkdf2') return new Response('ok')
    const iterations = Number(url.searchParams.get('iterations') ?? 100_000)
    const key = await crypto.subtle.importKey(
      'raw',
      encoder.encode('correct horse battery staple'),
      'PBKDF2',
      false,
      ['deriveBits'],
    )
    const salt = crypto.getRandomValues(new Uint8Array(16))
    await crypto.subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt, iterations }, key, 256)
    return new Response('derived')
  },
}
