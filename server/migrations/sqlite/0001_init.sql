-- Countersign schema (SQLite). Timestamps are unix seconds; DIDs and commands are text;
-- JSON values are text; token lists are length-prefixed (u32 big-endian) frames in a BLOB.

CREATE TABLE agents (
    name         TEXT    PRIMARY KEY,
    did          TEXT    NOT NULL UNIQUE,
    allow        TEXT    NOT NULL,          -- JSON array of command strings
    max_pending  INTEGER NOT NULL,
    rate_per_min INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
);

CREATE TABLE devices (
    id         TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL,
    did        TEXT    NOT NULL,
    standing   BLOB    NOT NULL,            -- framed owner → device delegations
    created_at INTEGER NOT NULL,
    removed_at INTEGER
);
-- One active device per key; removed devices keep their rows.
CREATE UNIQUE INDEX devices_active_did ON devices (did) WHERE removed_at IS NULL;

CREATE TABLE pairings (
    id              TEXT    PRIMARY KEY,
    code_hash       BLOB    NOT NULL,
    name            TEXT,
    allow           TEXT    NOT NULL,       -- JSON array of command strings
    policy          TEXT    NOT NULL,       -- JSON
    device_lifetime INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('open', 'claimed', 'confirmed')),
    device_did      TEXT,
    device_name     TEXT,
    device_id       TEXT    REFERENCES devices (id)
);
CREATE INDEX pairings_code_hash ON pairings (code_hash, state);

CREATE TABLE requests (
    seq               INTEGER PRIMARY KEY,  -- insertion order, breaks created_at ties
    id                TEXT    NOT NULL UNIQUE,
    agent_name        TEXT    NOT NULL,
    agent_did         TEXT    NOT NULL,
    command           TEXT    NOT NULL,
    subject           TEXT    NOT NULL,
    args              TEXT,                 -- JSON
    policy            TEXT    NOT NULL,     -- JSON
    summary           TEXT    NOT NULL,
    reason            TEXT    NOT NULL,
    diff              TEXT,                 -- JSON
    lifetime          INTEGER NOT NULL,
    code              TEXT    NOT NULL,
    created_at        INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    state             TEXT    NOT NULL
        CHECK (state IN ('pending', 'approved', 'denied', 'expired', 'withdrawn')),
    decided_at        INTEGER,
    decided_by        TEXT,
    denial_reason     TEXT,
    evidence          BLOB,
    chain             BLOB    NOT NULL,     -- framed tokens, root first
    issued_cid        TEXT,
    issued_expires_at INTEGER
);
CREATE INDEX requests_agent_created ON requests (agent_did, created_at);
CREATE INDEX requests_state_created ON requests (state, created_at);
CREATE INDEX requests_state_expires ON requests (state, expires_at);

CREATE TABLE revocations (
    cid        TEXT    PRIMARY KEY,
    revoked_at INTEGER NOT NULL,
    reason     TEXT    NOT NULL
);

CREATE TABLE used_jtis (
    issuer     TEXT    NOT NULL,
    jti        TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (issuer, jti)
);
CREATE INDEX used_jtis_expires ON used_jtis (expires_at);
