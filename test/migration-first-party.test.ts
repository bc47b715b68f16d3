/**
 * Migration 0011 on a database holding clients and refresh families from before it: the old
 * `first_party` value (it meant "skip the consent page") moves to `skip_consent`, no existing
 * client becomes first-party, client-less refresh families (the password grant) become first-party
 * and every family of a client becomes delegated. Storage is isolated per test file, so this file
 * rebuilds its D1 at the schema before 0011, writes old rows, then applies 0011 as a deploy would.
 */
import { applyD1Migrations, env } from 'cloudflare:test'
import { beforeAll, describe, expect, it } from 'vitest'

const SPLIT = '0011_split_first_party.sql'

async function resetToBefore(name: string): Promise<void> {
  const tables = await env.DB.prepare(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'",
  ).all<{ name: string }>()
  for (const { name: table } of tables.results) await env.DB.prepare(`DROP TABLE "${table}"`).run()
  const index = env.MIGRATIONS.findIndex((migration) => migration.name === name)
  expect(index).toBeGreaterThan(0)
  await applyD1Migrations(env.DB, env.MIGRATIONS.slice(0, index))
}

beforeAll(async () => {
  await resetToBefore(SPLIT)
  const client = (id: string, firstParty: number) =>
    env.DB.prepare(
      `INSERT INTO oauth_clients (client_id, name, grant_types, scopes, roles, first_party, created_at)
       VALUES (?1, ?1, '["authorization_code"]', '["openid"]', '[]', ?2, 1)`,
    ).bind(id, firstParty)
  const family = (hash: string, clientId: string | null) =>
    env.DB.prepare(
      `INSERT INTO refresh_tokens (token_hash, family_id, user_id, client_id, scope, issued_at, expires_at)
       VALUES (?1, ?1, 'u1', ?2, '', 1, 9999999999)`,
    ).bind(hash, clientId)
  await env.DB.batch([
    client('old-skip', 1),
    client('old-consent', 0),
    family('fam-password', null),
    family('fam-app', 'old-skip'),
  ])
  await applyD1Migrations(env.DB, env.MIGRATIONS)
})

describe('migration 0011 (first_party split)', () => {
  it('moves the old skip-consent meaning to skip_consent and makes no client first-party', async () => {
    const rows = await env.DB.prepare(
      'SELECT client_id, skip_consent, first_party, allowed_roles, allowed_origins FROM oauth_clients ORDER BY client_id',
    ).all()
    expect(rows.results).toEqual([
      {
        client_id: 'old-consent',
        skip_consent: 0,
        first_party: 0,
        allowed_roles: '[]',
        allowed_origins: '[]',
      },
      { client_id: 'old-skip', skip_consent: 1, first_party: 0, allowed_roles: '[]', allowed_origins: '[]' },
    ])
  })

  it('marks client-less refresh families first-party and families of a client delegated', async () => {
    const rows = await env.DB.prepare(
      'SELECT token_hash, first_party FROM refresh_tokens ORDER BY token_hash',
    ).all()
    expect(rows.results).toEqual([
      { token_hash: 'fam-app', first_party: 0 },
      { token_hash: 'fam-password', first_party: 1 },
    ])
  })
})
