-- People: agencies, user accounts, sign-in, sessions; API tokens bound to
-- users. Keep in step with ../postgres/0003_people.sql.

CREATE TABLE agencies (
    code        TEXT PRIMARY KEY,          -- stable short code, e.g. newport-parks
    name_en     TEXT NOT NULL,
    name_cy     TEXT NOT NULL,
    kind        TEXT NOT NULL,             -- AgencyKind code
    created_at  TEXT NOT NULL
);

CREATE TABLE users (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    username        TEXT NOT NULL UNIQUE,  -- lower case
    display_name    TEXT NOT NULL,
    agency          TEXT NOT NULL REFERENCES agencies (code),
    role            TEXT NOT NULL,         -- Role code; admin-only users have role admin
    admin           INTEGER NOT NULL,      -- 1: may administer (with or without a data role)
    password_hash   TEXT NOT NULL,         -- argon2id PHC string
    totp_secret     TEXT,                  -- base32; set once enrolment is confirmed
    totp_pending    TEXT,                  -- base32; offered, not yet confirmed
    totp_last_step  INTEGER,               -- last accepted time step, so a code works once
    disabled_at     TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

-- One-time recovery codes, stored as SHA-256 of the code (80 random bits).
CREATE TABLE recovery_codes (
    user_id     INTEGER NOT NULL REFERENCES users (id),
    code_hash   TEXT NOT NULL,
    used_at     TEXT,
    PRIMARY KEY (user_id, code_hash)
);

-- Browser sessions, by SHA-256 of the cookie's token.
CREATE TABLE sessions (
    token_hash      TEXT PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users (id),
    csrf_token      TEXT NOT NULL,
    stage           TEXT NOT NULL,         -- full | enrol-mfa
    created_at      TEXT NOT NULL,
    last_seen_at    TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Every sign-in attempt: the security log, and what throttling counts.
CREATE TABLE sign_ins (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT NOT NULL,
    username    TEXT NOT NULL,
    user_id     INTEGER,
    client      TEXT NOT NULL,
    outcome     TEXT NOT NULL              -- success | failure | incomplete | throttled
);
CREATE INDEX sign_ins_username ON sign_ins (username, at);
CREATE INDEX sign_ins_client ON sign_ins (client, at);

-- Tokens now act as a user, with a scope and an expiry. Tokens made before
-- user accounts existed carried a role of their own; they stop working.
DROP TABLE api_tokens;
CREATE TABLE api_tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    name        TEXT NOT NULL,             -- what the tool is for: the purpose of its disclosures
    scope       TEXT NOT NULL,             -- read | write
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    revoked_at  TEXT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE INDEX observations_review_by ON observations (review_by);
