-- Area alerts and notifications (issue 15).
-- SQLite dialect; keep in step with ../postgres/0010_alerts.sql.

-- Where a person's alert emails go; NULL: in-app only.
ALTER TABLE users ADD COLUMN email TEXT;

-- A person following an area (a registered one, or a shape of their own)
-- for some categories. No foreign key to areas: an area can be deleted
-- while someone follows it, and the subscription then says so.
CREATE TABLE subscriptions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    name        TEXT NOT NULL,
    area_id     INTEGER,                 -- a registered area, or NULL
    geometry    TEXT,                    -- drawn: GeoJSON MultiPolygon, WGS84
    categories  TEXT NOT NULL,           -- JSON array of category codes; []: all
    email       INTEGER NOT NULL,        -- 1: also by email
    client_key  TEXT UNIQUE,             -- principal + Idempotency-Key
    created_at  TEXT NOT NULL,
    removed_at  TEXT
);
CREATE INDEX subscriptions_live ON subscriptions (user_id) WHERE removed_at IS NULL;

-- What a person is told. Only ids and counts are kept: an observation's
-- notification is drawn through the reader's scope each time it is read,
-- so it never says more than their layer would, now.
CREATE TABLE notifications (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id          INTEGER NOT NULL REFERENCES users (id),
    kind             TEXT NOT NULL,      -- observation | action-due | review-due
    subject          TEXT NOT NULL,      -- observation id, action id:due date, or date
    subscription_id  INTEGER,
    detail           TEXT NOT NULL,      -- JSON: counts for review-due, else {}
    created_at       TEXT NOT NULL,
    read_at          TEXT,
    email_state      TEXT NOT NULL,      -- none | pending | sending | sent | failed
    email_attempts   INTEGER NOT NULL DEFAULT 0,
    UNIQUE (user_id, kind, subject)
);
CREATE INDEX notifications_inbox ON notifications (user_id, id);
CREATE INDEX notifications_email ON notifications (email_state) WHERE email_state = 'pending';

-- New observations not yet matched against subscriptions, written in the
-- transaction that records them, so a crash between commit and matching
-- loses no alert.
CREATE TABLE alert_outbox (
    observation_id  INTEGER PRIMARY KEY,
    queued_at       TEXT NOT NULL
);
