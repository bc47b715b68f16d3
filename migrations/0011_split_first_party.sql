-- Delegated tokens (issue 19). See docs/storage-schema.md and docs/upgrading.md.

-- `first_party` used to mean "skip the consent page". It is split in two: `skip_consent` takes the
-- old value, and `first_party` now means "the operator vouches for this app: its tokens act with
-- every role of the user and may manage the account". It starts at 0 for every existing client,
-- so no client becomes first-party by accident.
ALTER TABLE oauth_clients ADD COLUMN skip_consent INTEGER NOT NULL DEFAULT 0;
UPDATE oauth_clients SET skip_consent = first_party, first_party = 0;
-- The roles a delegated token of this client may carry (JSON array): the user's roles ∩ these,
-- both closed under the role hierarchy. Empty: a delegated token carries no role.
ALTER TABLE oauth_clients ADD COLUMN allowed_roles TEXT NOT NULL DEFAULT '[]';
-- Browser origins, besides those of the redirect URIs, that may call /auth/token, /auth/revoke
-- and /auth/userinfo from a page (CORS, never with credentials). JSON array of origins.
ALTER TABLE oauth_clients ADD COLUMN allowed_origins TEXT NOT NULL DEFAULT '[]';

-- Whether a refresh-token family issues first-party tokens (1) or delegated ones (0, the default:
-- a token is first-party only when something says so). Client-less families come from the
-- password grant (or a password change), which is first-party; every family of a client becomes
-- delegated until the operator marks that client first_party.
ALTER TABLE refresh_tokens ADD COLUMN first_party INTEGER NOT NULL DEFAULT 0;
UPDATE refresh_tokens SET first_party = 1 WHERE client_id IS NULL;

-- The roles the user let this client act with (JSON array), as the consent page named them; the
-- page is shown again when the client would act with a role outside this list.
ALTER TABLE consent_grants ADD COLUMN roles TEXT NOT NULL DEFAULT '[]';
