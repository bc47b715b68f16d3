-- RFC 7591 dynamic client registration (issue 21). See docs/storage-schema.md.

-- How a client came to exist: 'operator' (admin API or CLI, the default for every existing row) or
-- 'dynamic' (POST /auth/clients, by the client itself: public unless the operator allows
-- confidential self-registration, never first_party, skip_consent, allowed_roles or allowed_origins).
ALTER TABLE oauth_clients ADD COLUMN registration TEXT NOT NULL DEFAULT 'operator';
-- When the gateway last issued an authorization code for the client (unix seconds); NULL: never.
-- The hourly cron deletes dynamic clients still NULL here a day (SETTINGS) after registration.
ALTER TABLE oauth_clients ADD COLUMN last_used_at INTEGER;
CREATE INDEX IF NOT EXISTS oauth_clients_unused_dynamic ON oauth_clients (created_at)
  WHERE registration = 'dynamic' AND last_used_at IS NULL;
