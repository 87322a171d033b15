-- The audit trail of security events, kept (the janitor does not delete it).
CREATE TABLE audit_events (
    id        TEXT PRIMARY KEY,
    at        BIGINT NOT NULL,
    kind      TEXT NOT NULL,
    actor     TEXT,
    client_id TEXT,
    address   TEXT,
    detail    TEXT
);
CREATE INDEX audit_events_at ON audit_events(at);
CREATE INDEX audit_events_kind ON audit_events(kind, at);
