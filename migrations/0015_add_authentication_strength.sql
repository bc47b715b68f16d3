-- How strongly a user signed in (RFC 8176 `amr`), kept wherever a sign-in lives on, and whether
-- the user asked for a second factor after the password. See docs/storage-schema.md and
-- docs/passkeys-and-mfa.md.

-- Browser sessions: the methods of the sign-in (JSON array). Sessions from before this migration
-- get what their auth_method said.
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT '[]';
UPDATE sessions SET amr = CASE
  WHEN auth_method = 'password' THEN '["pwd"]'
  WHEN auth_method LIKE 'provider:%' THEN '["fed"]'
  ELSE '[]' END;

-- Refresh families keep the sign-in's amr and the acr the authorization request achieved, as they
-- keep auth_time: a refresh is not a new sign-in. NULL for families issued before.
ALTER TABLE refresh_tokens ADD COLUMN amr TEXT;
ALTER TABLE refresh_tokens ADD COLUMN acr TEXT;

-- The acr an authorization request asked for and the sign-in satisfied (NULL: none asked).
ALTER TABLE authorization_codes ADD COLUMN acr TEXT;

-- 1 when a password (or provider) sign-in of this user must be followed by a second factor
-- (TOTP, a recovery code or a passkey). Such a user gets no tokens from the password grant and
-- cannot pass HTTP Basic. Set when TOTP is confirmed or the user turns it on; cleared with the
-- last second factor.
ALTER TABLE users ADD COLUMN mfa_enabled INTEGER NOT NULL DEFAULT 0;
