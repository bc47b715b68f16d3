import { applyD1Migrations, env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'

// Storage is isolated per test file: this file's D1 starts empty and test/apply-migrations.ts
// applied the real migrations (migrations/*.sql) to it before these tests.
const TABLES = [
  'users',
  'oauth_clients',
  'refresh_tokens',
  'session_access_tokens',
  'auth_failures',
  'revoked_tokens',
  'subject_revocations',
]

async function schema(): Promise<{ type: string; name: string; sql: string | null }[]> {
  const result = await env.DB.prepare(
    "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' ORDER BY name",
  ).all<{ type: string; name: string; sql: string | null }>()
  return result.results
}

async function appliedMigrations(): Promise<string[]> {
  const result = await env.DB.prepare('SELECT name FROM d1_migrations ORDER BY id').all<{ name: string }>()
  return result.results.map((row) => row.name)
}

function insertUser(id: string, username: string): D1PreparedStatement {
  return env.DB.prepare(
    `INSERT INTO users (id, username, password_hash, roles, created_at, updated_at, password_changed_at)
     VALUES (?1, ?2, 'x', '["user"]', 1, 1, 1)`,
  ).bind(id, username)
}

describe('the D1 migrations', () => {
  it('create every table the gateway uses', async () => {
    const tables = (await schema()).filter((entry) => entry.type === 'table').map((entry) => entry.name)
    for (const table of TABLES) expect(tables).toContain(table)
    expect(await appliedMigrations()).toEqual(env.MIGRATIONS.map((migration) => migration.name))
  })

  it('are a no-op when applied again with applyD1Migrations: same schema, same rows, no error', async () => {
    await insertUser('mig-reapply', 'mig-reapply').run()
    const before = await schema()
    await applyD1Migrations(env.DB, env.MIGRATIONS)
    expect(await schema()).toEqual(before)
    expect(await appliedMigrations()).toEqual(env.MIGRATIONS.map((migration) => migration.name))
    const row = await env.DB.prepare("SELECT id FROM users WHERE username = 'mig-reapply'").first()
    expect(row).toEqual({ id: 'mig-reapply' })
  })

  it('succeed when every statement of every migration runs a second time (IF NOT EXISTS), except ALTER TABLE ADD COLUMN, which is refused as a duplicate and changes nothing', async () => {
    await insertUser('mig-rerun', 'mig-rerun').run()
    const before = await schema()
    for (const migration of env.MIGRATIONS) {
      for (const query of migration.queries) {
        const label = `${migration.name}: ${query.slice(0, 60)}`
        // SQLite has no ADD COLUMN IF NOT EXISTS; d1_migrations keeps such a migration from running twice.
        if (/^\s*(--[^\n]*\n\s*)*ALTER\s+TABLE\s+\w+\s+ADD\s+COLUMN/i.test(query)) {
          await expect(env.DB.prepare(query).run(), label).rejects.toThrow(/duplicate column name/)
          continue
        }
        const result = await env.DB.prepare(query).run()
        expect(result.success, label).toBe(true)
      }
    }
    expect(await schema()).toEqual(before)
    const row = await env.DB.prepare("SELECT id FROM users WHERE username = 'mig-rerun'").first()
    expect(row).toEqual({ id: 'mig-rerun' })
  })

  it('make usernames unique case-insensitively in the database itself (Mig-Alice vs mig-alice)', async () => {
    await insertUser('mig-alice-1', 'mig-alice').run()
    await expect(insertUser('mig-alice-2', 'Mig-ALICE').run()).rejects.toThrow(/UNIQUE constraint failed/)
    const found = await env.DB.prepare('SELECT id FROM users WHERE username = ?1').bind('MIG-alice').all()
    expect(found.results).toEqual([{ id: 'mig-alice-1' }])
  })
})
