-- The full places register, and areas. SQLite dialect; keep in step with
-- ../postgres/0005_places_areas.sql.

-- What kind of place, its address, licence, the place manager's role (a
-- role, never a person's name), safeguarding training and safe-place scheme
-- membership; edits are versioned and attributed. `source_ref` identifies a
-- place from an import, so importing the same file again updates rather
-- than duplicates.
ALTER TABLE places ADD COLUMN kind TEXT NOT NULL DEFAULT 'other';
UPDATE places SET kind = CASE setting
    WHEN 'park' THEN 'park' WHEN 'takeaway' THEN 'takeaway' WHEN 'hotel' THEN 'hotel'
    WHEN 'taxi-rank' THEN 'taxi-rank' WHEN 'transport-hub' THEN 'transport-hub'
    WHEN 'school-perimeter' THEN 'school' WHEN 'licensed-premises' THEN 'licensed-premises'
    WHEN 'shopping-centre' THEN 'shopping-centre' ELSE 'other' END;
ALTER TABLE places ADD COLUMN address TEXT NOT NULL DEFAULT '';
ALTER TABLE places ADD COLUMN licence_reference TEXT;
ALTER TABLE places ADD COLUMN manager_role TEXT NOT NULL DEFAULT '';
ALTER TABLE places ADD COLUMN training TEXT NOT NULL DEFAULT 'not-known';
ALTER TABLE places ADD COLUMN safe_place INTEGER NOT NULL DEFAULT 0;
ALTER TABLE places ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE places ADD COLUMN updated_at TEXT NOT NULL DEFAULT '';
ALTER TABLE places ADD COLUMN updated_by TEXT NOT NULL DEFAULT '';
ALTER TABLE places ADD COLUMN source_ref TEXT;
ALTER TABLE places ADD COLUMN removed_at TEXT;
UPDATE places SET updated_at = created_at;
CREATE UNIQUE INDEX places_source_ref ON places (source_ref);

-- Creates of places retried with the same key return the first place.
CREATE TABLE place_keys (
    principal     TEXT NOT NULL,
    key           TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    place_id      INTEGER NOT NULL REFERENCES places (id),
    PRIMARY KEY (principal, key)
);

-- Areas: wards, LSOAs, neighbourhoods, or drawn by hand. The geometry is
-- GeoJSON (Polygon or MultiPolygon, WGS84) with its bounding box beside it.
-- (kind, code) is unique, so re-importing a boundary file replaces shapes.
CREATE TABLE areas (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL,
    code        TEXT NOT NULL,
    name_en     TEXT NOT NULL,
    name_cy     TEXT NOT NULL,
    geometry    TEXT NOT NULL,
    min_lon     REAL NOT NULL,
    min_lat     REAL NOT NULL,
    max_lon     REAL NOT NULL,
    max_lat     REAL NOT NULL,
    source      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    UNIQUE (kind, code)
);
