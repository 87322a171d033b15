-- Authorization codes are sealed (AES-256-GCM-SIV under a server secret) and carry their
-- own binding, so issuing one writes nothing. Single use is kept by the digest of each
-- redeemed code, stored once, until the code could no longer be redeemed anyway, with the
-- refresh family it started: a replayed code revokes that family (RFC 6749 §4.1.2). So
-- refresh tokens no longer carry the code's digest, nor pay for an index on it.
DROP TABLE IF EXISTS authorization_codes;
CREATE TABLE consumed_codes (
    code_hash  BYTEA PRIMARY KEY,
    family_id  TEXT,
    expires_at BIGINT NOT NULL
);
CREATE INDEX consumed_codes_expires_at ON consumed_codes(expires_at);
DROP INDEX IF EXISTS refresh_tokens_code;
ALTER TABLE refresh_tokens DROP COLUMN code_hash;
