-- One row that /readyz rewrites on the embedded store: a real commit, so a
-- full disk shows as not ready (a transaction that only begins and rolls
-- back writes nothing, and succeeds on a full disk).
CREATE TABLE readiness (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at TEXT NOT NULL,
    headroom BLOB NOT NULL
);
INSERT INTO readiness (id, checked_at, headroom) VALUES (1, '', x'');
