-- police.uk street-level crime: a context layer, never mixed with
-- observations. Rows are replaced a force-month at a time, so re-importing
-- a month changes nothing.
CREATE TABLE police_crimes (
    id            INTEGER PRIMARY KEY,
    force         TEXT NOT NULL,   -- "Reported by"
    month         TEXT NOT NULL,   -- YYYY-MM
    crime_id      TEXT,            -- empty for anti-social behaviour
    falls_within  TEXT NOT NULL,
    lon           REAL NOT NULL,
    lat           REAL NOT NULL,
    location      TEXT NOT NULL,
    lsoa_code     TEXT NOT NULL,
    lsoa_name     TEXT NOT NULL,
    crime_type    TEXT NOT NULL,
    last_outcome  TEXT NOT NULL,
    context       TEXT NOT NULL
);
CREATE INDEX police_crimes_force_month ON police_crimes (force, month);

-- One row per force-month imported: what was read, kept and left out.
CREATE TABLE police_imports (
    id            INTEGER PRIMARY KEY,
    force         TEXT NOT NULL,
    month         TEXT NOT NULL,
    source        TEXT NOT NULL,
    rows_read     INTEGER NOT NULL,
    imported      INTEGER NOT NULL,
    no_location   INTEGER NOT NULL,
    outside_area  INTEGER NOT NULL,
    imported_at   TEXT NOT NULL,
    imported_by   TEXT NOT NULL
);
