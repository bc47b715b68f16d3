-- The sign-in link's browser binding (src/email/sign-in-routes.ts). Asking for a link sets a random
-- HttpOnly cookie in the asking browser; the token's row keeps only its SHA-256, so the link's page
-- can tell whether it was opened in that browser (otherwise it asks "Sign in here anyway?").
-- `return_to` is where the sign-in continues (checked by safeReturnTo when stored and when used).
-- Both NULL for the other purposes. See docs/storage-schema.md and docs/email.md.
ALTER TABLE email_tokens ADD COLUMN browser_hash TEXT;
ALTER TABLE email_tokens ADD COLUMN return_to TEXT;
