-- Revocation and introspection (RFC 7009, 7662), opaque access tokens, dynamic client
-- registration (RFC 7591, 7592), the device grant (RFC 8628) and signing key rotation.
ALTER TABLE clients ADD COLUMN token_format TEXT NOT NULL DEFAULT 'jwt';
ALTER TABLE clients ADD COLUMN registration_token_hash BLOB;
ALTER TABLE clients ADD COLUMN metadata TEXT;

-- Opaque access tokens (token_hash set) and individually revoked JWTs (token_hash NULL).
CREATE TABLE access_tokens (
    jti        TEXT PRIMARY KEY,
    token_hash BLOB UNIQUE,
    client_id  TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    subject    TEXT NOT NULL,
    scope      TEXT NOT NULL,
    family_id  TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX access_tokens_family ON access_tokens(family_id);
CREATE INDEX access_tokens_expires_at ON access_tokens(expires_at);

CREATE TABLE registration_tokens (
    token_hash BLOB PRIMARY KEY,
    uses_left  INTEGER,
    created_at INTEGER NOT NULL,
    expires_at INTEGER
);

CREATE TABLE device_codes (
    device_code_hash BLOB PRIMARY KEY,
    user_code        TEXT NOT NULL UNIQUE,
    client_id        TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    scope            TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    interval_secs    INTEGER NOT NULL,
    last_polled_at   INTEGER,
    user_id          TEXT REFERENCES users(id) ON DELETE CASCADE,
    decision         TEXT,
    consumed_at      INTEGER
);
CREATE INDEX device_codes_expires_at ON device_codes(expires_at);

ALTER TABLE signing_keys ADD COLUMN activates_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE signing_keys ADD COLUMN encrypted BOOLEAN NOT NULL DEFAULT FALSE;
