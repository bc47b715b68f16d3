-- The audit log of security-relevant actions (src/audit/). See docs/storage-schema.md.
-- `id` is a UUIDv7, so ordering by it is ordering by time; cursors are ids.
CREATE TABLE IF NOT EXISTS audit_events (
  id TEXT PRIMARY KEY,
  at_ms INTEGER NOT NULL,
  type TEXT NOT NULL,
  outcome TEXT NOT NULL,
  actor_id TEXT,
  subject_id TEXT,
  client_id TEXT,
  ip TEXT,
  user_agent TEXT,
  request_id TEXT,
  details TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS audit_events_at ON audit_events (at_ms);
CREATE INDEX IF NOT EXISTS audit_events_type ON audit_events (type, id);
CREATE INDEX IF NOT EXISTS audit_events_actor ON audit_events (actor_id, id);
CREATE INDEX IF NOT EXISTS audit_events_subject ON audit_events (subject_id, id);
