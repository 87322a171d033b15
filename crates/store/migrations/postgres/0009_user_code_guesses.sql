-- Wrong device user codes per user (RFC 8628 §5.1), shared by every instance so that the
-- limit holds across a cluster. A window ends at expires_at; the janitor removes old rows.
CREATE TABLE user_code_guesses (
    key        TEXT PRIMARY KEY,
    guesses    BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX user_code_guesses_expires_at ON user_code_guesses(expires_at);
