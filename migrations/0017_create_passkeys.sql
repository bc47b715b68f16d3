-- Passkeys (WebAuthn credentials) and their single-use ceremony challenges. See docs/storage-schema.md.
CREATE TABLE IF NOT EXISTS passkeys (
  id TEXT PRIMARY KEY,                -- our id (UUIDv7), the {id} of /auth/passkeys/{id}
  user_id TEXT NOT NULL,
  credential_id TEXT NOT NULL UNIQUE, -- base64url of the authenticator's credential id: unique across users
  public_key TEXT NOT NULL,           -- the credential's public key as a JWK (JSON), from its COSE key
  algorithm INTEGER NOT NULL,         -- COSE algorithm: -7 ES256, -8 EdDSA (Ed25519), -257 RS256
  sign_count INTEGER NOT NULL DEFAULT 0,
  transports TEXT NOT NULL DEFAULT '[]', -- JSON array the browser reported (usb, nfc, ble, internal, hybrid)
  backed_up INTEGER NOT NULL DEFAULT 0,  -- BS flag of the last ceremony: the key is synced
  device_type TEXT NOT NULL,          -- 'single_device' or 'multi_device' (BE flag at registration)
  aaguid TEXT NOT NULL,               -- the authenticator model (UUID text), informational: no attestation is trusted
  name TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER
);
CREATE INDEX IF NOT EXISTS passkeys_user ON passkeys (user_id);

-- One row per ceremony started (options issued): single use, lives at most 5 minutes.
CREATE TABLE IF NOT EXISTS webauthn_challenges (
  challenge_hash TEXT PRIMARY KEY,    -- SHA-256 hex of the challenge sent to the browser
  purpose TEXT NOT NULL,              -- 'registration' or 'authentication'
  user_id TEXT,                       -- registration: the signed-in user; authentication: NULL (discoverable)
  browser_hash TEXT NOT NULL,         -- SHA-256 hex of the binding cookie set with the options
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS webauthn_challenges_expires ON webauthn_challenges (expires_at);
