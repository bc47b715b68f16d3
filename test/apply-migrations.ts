import { applyD1Migrations, env } from 'cloudflare:test'

// Real migrations on the real (local) D1 of each test file; applyD1Migrations skips applied ones.
await applyD1Migrations(env.DB, env.MIGRATIONS)
