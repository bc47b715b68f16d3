-- External login providers (Sign in with Google / GitHub / OIDC). See docs/storage-schema.md.
-- An external identity signs in as one local user. No provider token is stored.
CREATE TABLE IF NOT EXISTS external_identities (
  provider TEXT NOT NULL,             -- LOGIN_PROVIDERS[].name
  subject TEXT NOT NULL,              -- the provider's stable id: OIDC `sub`, GitHub's numeric user id
  user_id TEXT NOT NULL,
  email TEXT,                         -- the verified email the provider last asserted (display only)
  display TEXT NOT NULL DEFAULT '',   -- the provider's login or preferred_username (display only)
  created_at INTEGER NOT NULL,
  last_login_at INTEGER,
  PRIMARY KEY (provider, subject)
);
CREATE INDEX IF NOT EXISTS external_identities_user ON external_identities (user_id);

-- One row per sign-in started at a provider: single use, lives 10 minutes.
CREATE TABLE IF NOT EXISTS login_flows (
  state_hash TEXT PRIMARY KEY,        -- SHA-256 hex of the `state` sent to the provider
  provider TEXT NOT NULL,
  browser_hash TEXT NOT NULL,         -- SHA-256 hex of the flow cookie of the browser that started it
  code_verifier TEXT NOT NULL,        -- PKCE (RFC 7636); useless without the code only that browser gets
  nonce TEXT,                         -- OIDC nonce; NULL for GitHub
  return_to TEXT NOT NULL,
  link_user_id TEXT,                  -- set when a signed-in user links this provider to their account
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS login_flows_expires ON login_flows (expires_at);
