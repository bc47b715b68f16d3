/**
 * The baseline (1.00): a Worker that forwards every request to the upstream unchanged: the cost of
 * a Worker in front of the upstream, with no authentication at all.
 */
interface Env {
  UPSTREAM_URL: string
}

export default {
  fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url)
    return fetch(env.UPSTREAM_URL + url.pathname + url.search, request)
  },
}
