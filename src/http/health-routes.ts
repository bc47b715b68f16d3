import { Hono } from 'hono'
import type { AppBindings } from '../env'

export const healthRoutes = new Hono<AppBindings>()

// Liveness only: no storage reads or writes, no secrets. A misconfigured gateway already answered 503.
healthRoutes.get('/healthz', (c) => c.json({ status: 'ok' }, 200, { 'cache-control': 'no-store' }))
