-- SQLite's INSERT OR REPLACE deletes a conflicting row without firing
-- DELETE triggers (unless recursive_triggers is on), which would let an
-- audit event be replaced. Refuse any insert that reuses a sequence number.
-- (PostgreSQL has no REPLACE; its ON CONFLICT DO UPDATE fires the UPDATE
-- trigger of 0002.)
CREATE TRIGGER audit_events_no_replace BEFORE INSERT ON audit_events
WHEN EXISTS (SELECT 1 FROM audit_events WHERE seq = NEW.seq)
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
