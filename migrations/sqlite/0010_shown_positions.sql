-- Where a viewer who sees a record generalised is shown it: the centre of
-- its 100 m British National Grid square (OSTN15), written by the service
-- with every write (and filled in for older rows at start-up). Kept in step
-- with ../postgres/0009_analyst.sql, whose analyst views read it.
ALTER TABLE observations ADD COLUMN shown_lon REAL;
ALTER TABLE observations ADD COLUMN shown_lat REAL;
