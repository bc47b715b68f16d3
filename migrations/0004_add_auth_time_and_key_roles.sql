-- auth_time: when the user last authenticated with a password or a provider, copied unchanged to
-- every successor on rotation, so refreshed access tokens keep the original `auth_time` (minting
-- an API key requires a recent one). NULL for sessions created before this migration: they count
-- as not recently authenticated.
ALTER TABLE refresh_tokens ADD COLUMN auth_time INTEGER;
-- roles: the roles an API key acts with (JSON array, each held by the owner at creation and capped
-- by the owner's current roles at use); NULL means the owner's current roles. See docs/storage-schema.md.
ALTER TABLE api_keys ADD COLUMN roles TEXT;
