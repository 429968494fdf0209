-- The change stream (issue 16): one row per committed change that running
-- instances hold in memory, written in the committing transaction, so an
-- instance (or one coming back after losing its notifications) catches up
-- from the last change it applied. SQLite dialect; keep in step with
-- ../postgres/0011_changes.sql.
CREATE TABLE changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL,      -- observation | area | police | credentials
    object_id  TEXT NOT NULL,      -- the observation id; '' for the others
    at         TEXT NOT NULL
);
