-- Young people's safety mapping: anonymous sessions and their marks.
-- No identity is stored: a participant is a number within its session.
-- SQLite dialect; keep in step with ../postgres/0007_perceptions.sql.

CREATE TABLE perception_sessions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    held_on      TEXT NOT NULL,              -- YYYY-MM-DD
    area_id      INTEGER REFERENCES areas (id),
    age_band     TEXT,
    facilitator  TEXT NOT NULL,              -- the facilitator's display name
    created_at   TEXT NOT NULL,
    client_key   TEXT UNIQUE
);

CREATE TABLE perception_marks (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id   INTEGER NOT NULL REFERENCES perception_sessions (id),
    participant  INTEGER NOT NULL,           -- 1, 2, 3 … within the session
    kind         TEXT NOT NULL,              -- pin | area | route
    rating       TEXT,                       -- red | amber | green (pins, areas)
    route_use    TEXT,                       -- used | avoided (routes)
    geometry     TEXT NOT NULL,              -- GeoJSON
    lon          REAL NOT NULL,              -- a representative position, for bbox queries
    lat          REAL NOT NULL,
    reasons      TEXT NOT NULL,              -- comma-separated reason codes
    time_of_day  TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    client_key   TEXT UNIQUE
);
CREATE INDEX perception_marks_session ON perception_marks (session_id);
