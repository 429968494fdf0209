-- Analysts' SQL: a schema `analyst` of typed views over the same rows,
-- holding what a panel member of no agency may see — sensitive records at
-- the centre of their 100 m square (computed by the service with OSTN15,
-- never here, so no second, differently placed square can be intersected
-- with the first), no restricted or withdrawn records, no free text, case
-- references, recorders or place links of generalised records — and a
-- NOLOGIN role that may read only that schema. Kept in step with
-- ../sqlite/0010_shown_positions.sql.

ALTER TABLE observations ADD COLUMN shown_lon DOUBLE PRECISION;
ALTER TABLE observations ADD COLUMN shown_lat DOUBLE PRECISION;

CREATE SCHEMA IF NOT EXISTS analyst;

-- security_barrier: an analyst's own conditions (a function that raises,
-- a division by zero) are applied only to rows the view lets through, so
-- they cannot test rows it leaves out.
CREATE VIEW analyst.observations WITH (security_barrier) AS
WITH shown AS (
    SELECT o.*,
           CASE WHEN o.sensitivity = 'standard' THEN o.geom
                WHEN o.shown_lon IS NULL THEN NULL
                ELSE ST_SetSRID(ST_MakePoint(o.shown_lon, o.shown_lat), 4326)
           END AS shown_geom
    FROM public.observations o
    WHERE o.withdrawn_at IS NULL AND o.sensitivity IN ('standard', 'sensitive')
)
SELECT id,
       category,
       string_to_array(NULLIF(indicators, ''), ',')::text[] AS indicators,
       setting,
       severity,
       status,
       sensitivity,
       agency,
       observed_at::timestamptz AS observed_at,
       CASE WHEN sensitivity = 'standard' THEN place_id END AS place_id,
       CASE WHEN sensitivity = 'standard' THEN 'exact' ELSE 'bng-100m' END AS precision,
       shown_geom::geometry(Point, 4326) AS geom,
       ST_Transform(shown_geom, 27700)::geometry(Point, 27700) AS geom_bng
FROM shown;

CREATE VIEW analyst.places WITH (security_barrier) AS
SELECT id, name_en, name_cy, kind, address, (safe_place <> 0) AS safe_place, training,
       geom::geometry(Point, 4326) AS geom,
       ST_Transform(geom, 27700)::geometry(Point, 27700) AS geom_bng
FROM public.places
WHERE removed_at IS NULL;

CREATE VIEW analyst.areas WITH (security_barrier) AS
SELECT id, kind, code, name_en, name_cy,
       geom::geometry(MultiPolygon, 4326) AS geom,
       ST_Transform(geom, 27700)::geometry(MultiPolygon, 27700) AS geom_bng
FROM public.areas;

CREATE VIEW analyst.police_crimes WITH (security_barrier) AS
SELECT id, month, crime_type, lsoa_code, last_outcome,
       geom::geometry(Point, 4326) AS geom,
       ST_Transform(geom, 27700)::geometry(Point, 27700) AS geom_bng
FROM public.police_crimes;

-- Roles belong to the cluster, not the database: made once.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'safetymap_analyst') THEN
        CREATE ROLE safetymap_analyst NOLOGIN;
    END IF;
END
$$;
GRANT USAGE ON SCHEMA analyst TO safetymap_analyst;
GRANT SELECT ON ALL TABLES IN SCHEMA analyst TO safetymap_analyst;
