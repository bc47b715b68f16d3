-- Users, OAuth clients and refresh tokens. See docs/storage-schema.md.
CREATE TABLE IF NOT EXISTS users (
  id TEXT PRIMARY KEY,
  username TEXT NOT NULL UNIQUE COLLATE NOCASE,
  password_hash TEXT NOT NULL,
  roles TEXT NOT NULL DEFAULT '["user"]',
  disabled INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  password_changed_at INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS oauth_clients (
  client_id TEXT PRIMARY KEY,
  secret_hash TEXT,
  name TEXT NOT NULL DEFAULT '',
  grant_types TEXT NOT NULL DEFAULT '["client_credentials"]',
  scopes TEXT NOT NULL DEFAULT '[]',
  roles TEXT NOT NULL DEFAULT '[]',
  first_party INTEGER NOT NULL DEFAULT 0,
  disabled INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS refresh_tokens (
  token_hash TEXT PRIMARY KEY,
  family_id TEXT NOT NULL,
  parent_hash TEXT,
  user_id TEXT NOT NULL,
  client_id TEXT,
  scope TEXT NOT NULL DEFAULT '',
  issued_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER,
  revoked_at INTEGER,
  successor_hash TEXT
);
CREATE INDEX IF NOT EXISTS refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX IF NOT EXISTS refresh_tokens_user ON refresh_tokens (user_id);

-- Every access token issued in a refresh-token family (login session), so ending the session can
-- deny its still-live access tokens too.
CREATE TABLE IF NOT EXISTS session_access_tokens (
  jti TEXT PRIMARY KEY,
  family_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS session_access_tokens_family ON session_access_tokens (family_id);

-- Failed credential checks, per account (submitted username, existing or not) and per client IP.
CREATE TABLE IF NOT EXISTS auth_failures (
  subject TEXT PRIMARY KEY,
  window_start INTEGER NOT NULL,
  failures_in_window INTEGER NOT NULL DEFAULT 0,
  consecutive_failures INTEGER NOT NULL DEFAULT 0,
  locked_until INTEGER NOT NULL DEFAULT 0
);
