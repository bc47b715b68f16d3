/** The pages' stylesheet, served by the gateway itself (the pages' CSP allows only 'self'). */
import { Hono } from 'hono'
import type { AppBindings } from '../env'
import { STYLESHEET, STYLESHEET_PATH } from './stylesheet'

export const pageAssetRoutes = new Hono<AppBindings>()

pageAssetRoutes.get(STYLESHEET_PATH, (c) =>
  c.body(STYLESHEET, 200, {
    'content-type': 'text/css; charset=utf-8',
    // Versioned by the `?v=` the layout adds, so browsers may keep it a day without revalidating.
    'cache-control': 'public, max-age=86400',
    'x-content-type-options': 'nosniff',
  }),
)
