-- Per-installation secrets shared by every instance (for example the key that derives a
-- rotated refresh token's successor, so a retry within the grace period gets the same one).
CREATE TABLE server_secrets (
    name       TEXT PRIMARY KEY,
    value      BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
