-- Privacy by construction (issue 13).
-- SQLite dialect; keep in step with ../postgres/0008_privacy.sql.

-- Who recorded each safety-mapping session, so that session reads can be
-- limited to the facilitator's agency and coordinators, and exact marks to
-- whoever recorded them. Sessions recorded before this carry '' and are
-- then readable by coordinators only.
ALTER TABLE perception_sessions ADD COLUMN agency TEXT NOT NULL DEFAULT '';
ALTER TABLE perception_sessions ADD COLUMN recorded_by TEXT NOT NULL DEFAULT '';

-- Changes that would give an administrator a data role (or a data role
-- administration) wait here for a second administrator.
CREATE TABLE role_requests (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       INTEGER NOT NULL REFERENCES users (id),
    role          TEXT NOT NULL,          -- the role asked for
    admin         INTEGER NOT NULL,       -- 1: administration asked for
    requested_by  TEXT NOT NULL,          -- principal
    requested_at  TEXT NOT NULL,
    decided_by    TEXT,                   -- principal of the second administrator
    decided_at    TEXT,
    outcome       TEXT                    -- approved | refused; NULL while pending
);
CREATE INDEX role_requests_pending ON role_requests (user_id) WHERE outcome IS NULL;
