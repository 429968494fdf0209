-- The audit trail (DPA 2018 s.62): who collected, altered, consulted,
-- disclosed or erased what, when and why. Keep in step with
-- ../postgres/0002_audit.sql.
--
-- Append-only: the triggers below refuse UPDATE and DELETE. Hash-chained:
-- each event's hash covers its fields and the previous event's hash, so
-- `safetymap audit verify` finds an event altered, inserted or removed by
-- someone who got past the triggers. No foreign keys to tokens or users, on
-- purpose: the log must outlive the accounts it names.
CREATE TABLE audit_events (
    seq           INTEGER PRIMARY KEY,   -- 1, 2, 3, … with no gaps
    at            TEXT NOT NULL,
    principal     TEXT NOT NULL,
    principal_name TEXT NOT NULL,
    agency        TEXT NOT NULL,
    role          TEXT NOT NULL,
    action        TEXT NOT NULL,
    object_type   TEXT NOT NULL,
    object_id     TEXT NOT NULL,
    object_agency TEXT NOT NULL,         -- whose record it is ('' when none)
    purpose       TEXT,
    prev_hash     TEXT NOT NULL,
    hash          TEXT NOT NULL
);

CREATE INDEX audit_events_principal ON audit_events (principal, seq);
CREATE INDEX audit_events_object ON audit_events (object_type, object_id, seq);
CREATE INDEX audit_events_agency ON audit_events (agency, seq);
CREATE INDEX audit_events_object_agency ON audit_events (object_agency, seq);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;

CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
