-- Indexes for lookups that otherwise read a whole table, which at a
-- national scale outlasts a request's statement timeout:
-- erasing a record deletes its idempotency keys (and the database checks
-- the key's reference to the record) and its notifications;
CREATE INDEX idempotency_keys_observation ON idempotency_keys (observation_id);
CREATE INDEX notifications_subject ON notifications (kind, subject);
-- the daily review notices read one agency's due records;
CREATE INDEX observations_agency_review_by ON observations (agency, review_by);
-- start-up looks for records whose shown position is not yet filled in
-- (none, once filled: the index stays empty);
CREATE INDEX observations_unshown ON observations (id) WHERE shown_lon IS NULL;
-- the audit log is searched by action and by date.
CREATE INDEX audit_events_action ON audit_events (action, seq);
CREATE INDEX audit_events_at ON audit_events (at);
