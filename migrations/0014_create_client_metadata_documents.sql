-- Client ID Metadata Documents the authorization server has used (docs/mcp.md): one row per
-- document URL (a client_id that is an https URL), written when the document is fetched, for the
-- admin API's list and the audit's first use. The document itself is cached in KV
-- (`cimd:<id>`), never kept here; a row grants nothing, and deleting it only forgets.
CREATE TABLE IF NOT EXISTS client_metadata_documents (
  id TEXT PRIMARY KEY,            -- first 32 hex digits of SHA-256(url): the admin API's path segment
  url TEXT NOT NULL UNIQUE,       -- the client_id, exactly
  client_name TEXT NOT NULL,      -- as the document names itself ('' when it does not)
  redirect_uris TEXT NOT NULL,    -- JSON array, as the document lists them
  first_seen INTEGER NOT NULL,    -- unix seconds
  last_fetched INTEGER NOT NULL,
  last_used INTEGER NOT NULL      -- updated at most hourly per isolate
);
CREATE INDEX IF NOT EXISTS client_metadata_documents_last_used ON client_metadata_documents (last_used);
