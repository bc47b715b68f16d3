-- Refresh-token successors are random now (they were an HMAC under a key derived from the signing
-- key). The rotation winner stores the successor here, AES-GCM-sealed under a key derived from the
-- parent token itself (src/tokens/successor-seal.ts), so a retry within the 10 s grace window that
-- presents the parent gets the same successor, while D1 alone yields nothing. A row is deleted
-- once its window is over (at the next rotation anywhere and by the hourly clean-up), when its
-- successor is rotated in turn, and when its session is revoked; so the table holds only a few
-- seconds' worth of rotations. A retry of a rotation made before this migration finds no row and
-- counts as reuse.
CREATE TABLE IF NOT EXISTS refresh_token_successors (
  parent_hash TEXT PRIMARY KEY,
  sealed TEXT NOT NULL,
  rotated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS refresh_token_successors_rotated ON refresh_token_successors (rotated_at);
