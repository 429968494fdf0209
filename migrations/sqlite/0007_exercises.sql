-- Mapping exercises and location assessments, with what the panel drew,
-- decided and agreed to do, and the frozen snapshot of what it saw.
-- SQLite dialect; keep in step with ../postgres/0006_exercises.sql.

CREATE TABLE exercises (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    kind             TEXT NOT NULL,            -- mapping-exercise | location-assessment
    title            TEXT NOT NULL,
    area_id          INTEGER NOT NULL REFERENCES areas (id),
    window_from      TEXT NOT NULL,            -- observed-at window, RFC 3339
    window_to        TEXT NOT NULL,
    agencies         TEXT NOT NULL,            -- participating agency codes, comma-separated
    facilitator      TEXT NOT NULL,            -- principal
    facilitator_name TEXT NOT NULL,
    review_on        TEXT,                     -- YYYY-MM-DD
    created_at       TEXT NOT NULL,
    created_by       TEXT NOT NULL,
    frozen_at        TEXT,
    frozen_by        TEXT,
    previous_id      INTEGER REFERENCES exercises (id),
    snapshot         TEXT,                     -- JSON, written once at freezing
    client_key       TEXT UNIQUE               -- principal + Idempotency-Key of the create
);
CREATE INDEX exercises_area ON exercises (area_id);

-- The observations a frozen exercise showed, as the panel saw them. The
-- content goes (set to NULL) when the observation is erased.
CREATE TABLE exercise_items (
    exercise_id     INTEGER NOT NULL REFERENCES exercises (id),
    observation_id  INTEGER NOT NULL,
    content         TEXT,
    erased_at       TEXT,
    PRIMARY KEY (exercise_id, observation_id)
);
CREATE INDEX exercise_items_observation ON exercise_items (observation_id);

CREATE TABLE exercise_annotations (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    exercise_id  INTEGER NOT NULL REFERENCES exercises (id),
    geometry     TEXT NOT NULL,                -- GeoJSON Point, LineString or Polygon
    note         TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    client_key   TEXT UNIQUE
);

CREATE TABLE exercise_decisions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    exercise_id  INTEGER NOT NULL REFERENCES exercises (id),
    text         TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    client_key   TEXT UNIQUE
);

CREATE TABLE exercise_actions (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    exercise_id    INTEGER NOT NULL REFERENCES exercises (id),
    what           TEXT NOT NULL,
    owner_agency   TEXT NOT NULL,
    due_on         TEXT NOT NULL,              -- YYYY-MM-DD
    status         TEXT NOT NULL,              -- open | in-progress | done | dropped
    place_id       INTEGER REFERENCES places (id),
    area_id        INTEGER REFERENCES areas (id),
    annotation_id  INTEGER REFERENCES exercise_annotations (id),
    created_at     TEXT NOT NULL,
    created_by     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    version        INTEGER NOT NULL,
    client_key     TEXT UNIQUE
);
CREATE INDEX exercise_actions_due ON exercise_actions (due_on);
