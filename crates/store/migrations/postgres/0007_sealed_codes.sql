-- Authorization codes are sealed (AES-256-GCM-SIV under a server secret) and carry their
-- own binding, so issuing one writes nothing. Single use is kept by the digest of each
-- redeemed code, stored once, until the code could no longer be redeemed anyway.
DROP TABLE IF EXISTS authorization_codes;
CREATE TABLE consumed_codes (
    code_hash BYTEA PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX consumed_codes_expires_at ON consumed_codes(expires_at);
