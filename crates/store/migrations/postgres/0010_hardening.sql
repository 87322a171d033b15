-- RFC 7662 §4: only clients the operator marked as resource servers may introspect tokens
-- issued to other clients.
ALTER TABLE clients ADD COLUMN may_introspect BOOLEAN NOT NULL DEFAULT FALSE;

-- RFC 6749 §4.1.2: a replayed code revokes every token issued from it, also when the
-- client has no refresh grant, so no refresh row could carry the revocation. Kept until
-- the last access token of the family has expired.
CREATE TABLE revoked_families (
    family_id  TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX revoked_families_expires_at ON revoked_families(expires_at);

-- Revoking a user's grants (password change, consent withdrawn) finds their refresh tokens.
CREATE INDEX refresh_tokens_user ON refresh_tokens(user_id, client_id);
