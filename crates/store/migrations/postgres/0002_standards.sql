-- Revocation and introspection (RFC 7009, 7662), opaque access tokens, dynamic client
-- registration (RFC 7591, 7592), the device grant (RFC 8628) and signing key rotation.
ALTER TABLE clients ADD COLUMN token_format TEXT NOT NULL DEFAULT 'jwt';
ALTER TABLE clients ADD COLUMN registration_token_hash BYTEA;
ALTER TABLE clients ADD COLUMN metadata TEXT;

-- Opaque access tokens (token_hash set) and individually revoked JWTs (token_hash NULL).
CREATE TABLE access_tokens (
    jti        TEXT PRIMARY KEY,
    token_hash BYTEA UNIQUE,
    client_id  TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    subject    TEXT NOT NULL,
    scope      TEXT NOT NULL,
    family_id  TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX access_tokens_family ON access_tokens(family_id);
CREATE INDEX access_tokens_expires_at ON access_tokens(expires_at);

CREATE TABLE registration_tokens (
    token_hash BYTEA PRIMARY KEY,
    uses_left  BIGINT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT
);

CREATE TABLE device_codes (
    device_code_hash BYTEA PRIMARY KEY,
    user_code        TEXT NOT NULL UNIQUE,
    client_id        TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    scope            TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    interval_secs    BIGINT NOT NULL,
    last_polled_at   BIGINT,
    user_id          TEXT REFERENCES users(id) ON DELETE CASCADE,
    decision         TEXT,
    consumed_at      BIGINT
);
CREATE INDEX device_codes_expires_at ON device_codes(expires_at);

ALTER TABLE signing_keys ADD COLUMN activates_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE signing_keys ADD COLUMN encrypted BOOLEAN NOT NULL DEFAULT FALSE;
