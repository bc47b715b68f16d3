-- Browser sessions: only the SHA-256 of the cookie value is stored. See docs/storage-schema.md.
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY,                -- public id (UUIDv7: its timestamp is the creation time in ms)
  token_hash TEXT NOT NULL UNIQUE,    -- SHA-256 hex of the cookie value
  user_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,        -- unix seconds
  last_seen_at INTEGER NOT NULL,      -- unix seconds, written at most once a minute per isolate
  expires_at INTEGER NOT NULL,        -- absolute end, unix seconds
  persistent INTEGER NOT NULL DEFAULT 0,
  user_agent TEXT NOT NULL DEFAULT '',
  ip TEXT,
  auth_method TEXT NOT NULL,          -- "password", later "provider:<name>"
  auth_time INTEGER NOT NULL,         -- when the user last proved who they are, unix seconds
  ended_at INTEGER                    -- logout, logout-all, revocation; NULL while live
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_id);
CREATE INDEX IF NOT EXISTS sessions_expires ON sessions (expires_at);
