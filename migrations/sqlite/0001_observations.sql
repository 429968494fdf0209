-- safetymap schema, SQLite dialect. Keep in step with ../postgres/0001_observations.sql:
-- the same tables and columns, differing only where the dialects differ.
-- Timestamps are RFC 3339 UTC text with milliseconds (fixed width, so text
-- order is time order); vocabulary terms are stored as their stable codes.

-- Tokens for tools and, until user accounts exist, for people. Only the
-- SHA-256 of a token is kept; the token itself is shown once, at creation.
CREATE TABLE api_tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    agency      TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    expires_at  TEXT,
    revoked_at  TEXT
);

-- The places register (premises and spaces observations can link to).
CREATE TABLE places (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name_en     TEXT NOT NULL,
    name_cy     TEXT NOT NULL,
    setting     TEXT NOT NULL,
    lon         REAL NOT NULL,
    lat         REAL NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE observations (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    lon                     REAL NOT NULL,
    lat                     REAL NOT NULL,
    extent_geojson          TEXT,
    observed_at             TEXT NOT NULL,
    recorded_at             TEXT NOT NULL,
    updated_at              TEXT NOT NULL,
    category                TEXT NOT NULL,
    indicators              TEXT NOT NULL,   -- comma-separated indicator codes
    setting                 TEXT NOT NULL,
    place_id                INTEGER REFERENCES places (id),
    description             TEXT NOT NULL,
    severity                TEXT NOT NULL,
    source_reliability      TEXT NOT NULL,
    information_assessment  TEXT NOT NULL,
    handling                TEXT NOT NULL,
    sensitivity             TEXT NOT NULL,
    status                  TEXT NOT NULL,
    agency                  TEXT NOT NULL,
    recorded_by             TEXT NOT NULL,
    case_reference          TEXT,
    review_by               TEXT NOT NULL,
    version                 INTEGER NOT NULL,
    withdrawn_at            TEXT,
    withdrawn_by            TEXT,
    withdrawn_reason        TEXT
);

CREATE INDEX observations_live ON observations (id) WHERE withdrawn_at IS NULL;
CREATE INDEX observations_lon_lat ON observations (lon, lat);

-- Full edit history: one row per create, edit and withdrawal.
CREATE TABLE observation_revisions (
    observation_id  INTEGER NOT NULL REFERENCES observations (id),
    version         INTEGER NOT NULL,
    kind            TEXT NOT NULL,   -- created | edited | withdrawn
    changed_at      TEXT NOT NULL,
    changed_by      TEXT NOT NULL,
    changes         TEXT NOT NULL,   -- JSON {field: {from, to}}
    PRIMARY KEY (observation_id, version)
);

-- Idempotency keys for creates: a retry with the same key by the same
-- principal returns the first result. The request hash tells a true retry
-- from a different request reusing a key.
CREATE TABLE idempotency_keys (
    principal       TEXT NOT NULL,
    key             TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    observation_id  INTEGER NOT NULL REFERENCES observations (id),
    created_at      TEXT NOT NULL,
    PRIMARY KEY (principal, key)
);
