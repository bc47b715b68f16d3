-- The authorization server (authorization code + PKCE, OpenID Connect). See docs/storage-schema.md.

-- Redirect URIs a client may use (JSON arrays, exact strings checked by src/oauth/redirect-uri.ts).
-- The existing first_party column is the client's skip_consent flag.
ALTER TABLE oauth_clients ADD COLUMN redirect_uris TEXT NOT NULL DEFAULT '[]';
ALTER TABLE oauth_clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]';

-- Authorization codes: only the SHA-256 of the code is stored. used_at is set once, by a
-- conditional UPDATE (the redemption winner), and family_id names the session the exchange created,
-- so a replay (replayed_at) can end it (RFC 6749 §4.1.2).
CREATE TABLE IF NOT EXISTS authorization_codes (
  code_hash TEXT PRIMARY KEY,
  client_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  redirect_uri TEXT NOT NULL,
  code_challenge TEXT NOT NULL,       -- S256 only: BASE64URL(SHA-256(code_verifier))
  scope TEXT NOT NULL DEFAULT '',
  nonce TEXT,
  auth_time INTEGER NOT NULL,         -- when the user last authenticated, unix seconds
  amr TEXT NOT NULL DEFAULT '[]',     -- JSON array, e.g. ["pwd"]
  browser_session_id TEXT,            -- the browser session that approved, when there is one
  issued_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,        -- at most 60 s after issued_at
  used_at INTEGER,
  family_id TEXT,
  replayed_at INTEGER
);
CREATE INDEX IF NOT EXISTS authorization_codes_expires ON authorization_codes (expires_at);

-- Consent: what a user allowed a client, remembered per user + client (scope: JSON array, the
-- union of every approval). DELETE /auth/grants/{client_id} removes it.
CREATE TABLE IF NOT EXISTS consent_grants (
  user_id TEXT NOT NULL,
  client_id TEXT NOT NULL,
  scope TEXT NOT NULL DEFAULT '[]',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, client_id)
);
