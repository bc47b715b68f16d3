-- RFC 8707 resource indicators (MCP servers behind the gateway, docs/mcp.md). A code and every
-- refresh token of its family remember the resource the client asked for: the access tokens they
-- yield carry it as `aud`, and a refresh keeps it. NULL: the gateway's own audience (SETTINGS.audience),
-- as every row before this migration.
ALTER TABLE authorization_codes ADD COLUMN resource TEXT;
ALTER TABLE refresh_tokens ADD COLUMN resource TEXT;
