/** Harness overhead: the fastest a Worker can answer under this harness (no upstream hop). */
export default {
  fetch(): Response {
    return new Response('hello')
  },
}
