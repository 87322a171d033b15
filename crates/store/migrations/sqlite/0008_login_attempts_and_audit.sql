-- Login attempts are reserved before the password is checked (one conditional write per
-- key). The account-wide counter delays attempts instead of refusing them for the whole
-- window: an attempt is let through only from not_before on.
ALTER TABLE login_failures ADD COLUMN not_before INTEGER NOT NULL DEFAULT 0;
-- Repeated events (throttled logins) are counted in one row per aggregate key (kind,
-- address, hour, actor) instead of a row each; the janitor purges events past the
-- retention period.
ALTER TABLE audit_events ADD COLUMN count INTEGER NOT NULL DEFAULT 1;
ALTER TABLE audit_events ADD COLUMN aggregate_key TEXT;
CREATE UNIQUE INDEX audit_events_aggregate_key ON audit_events(aggregate_key);
