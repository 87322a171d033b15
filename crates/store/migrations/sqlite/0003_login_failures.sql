-- Failed logins per account and per client address, shared by every instance so that a
-- limit holds across a cluster. A window ends at expires_at; the janitor removes old rows.
CREATE TABLE login_failures (
    key          TEXT PRIMARY KEY,
    window_start INTEGER NOT NULL,
    failures     INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX login_failures_expires_at ON login_failures(expires_at);
