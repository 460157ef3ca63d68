-- Countersign schema (SQLite). Timestamps are unix seconds; DIDs and commands are text;
-- JSON values are text; token lists are length-prefixed (u32 big-endian) frames in a BLOB.

CREATE TABLE agents (
    name         TEXT    PRIMARY KEY,
    did          TEXT    NOT NULL UNIQUE,
    allow        TEXT    NOT NULL,          -- JSON array of command strings
    max_pending  INTEGER NOT NULL,
    rate_per_min INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    suspended_at INTEGER                    -- set while suspended (after repeated denials)
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
        CHECK (state IN ('pending', 'approved', 'denied', 'expired', 'withdrawn', 'cancelled')),
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

-- The revocation feed: `cursor` is its strictly increasing position.
CREATE TABLE revocations (
    cursor     INTEGER PRIMARY KEY AUTOINCREMENT,
    cid        TEXT    NOT NULL UNIQUE,
    revoked_at INTEGER NOT NULL,
    revoked_by TEXT    NOT NULL,           -- a DID, or `owner`
    reason     TEXT    NOT NULL,
    record     TEXT                         -- the signed revocation record (JSON), if any
);

CREATE TABLE used_jtis (
    issuer     TEXT    NOT NULL,
    jti        TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (issuer, jti)
);
CREATE INDEX used_jtis_expires ON used_jtis (expires_at);

-- Tokens the service stored or issued, and who may revoke each.
CREATE TABLE tokens (
    cid        TEXT    PRIMARY KEY,
    kind       TEXT    NOT NULL,            -- standing, approval, issued, auto, …
    issuer     TEXT    NOT NULL,
    audience   TEXT    NOT NULL,
    command    TEXT    NOT NULL,
    request_id TEXT,
    agent_did  TEXT,
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER,
    revokers   TEXT    NOT NULL,            -- JSON array of DIDs, root first
    bytes      BLOB    NOT NULL
);
CREATE INDEX tokens_agent_issued ON tokens (agent_did, issued_at);
CREATE INDEX tokens_kind_issued ON tokens (kind, issued_at);

-- The hash-chained audit log: seq 1, 2, 3… without gaps; hashes are hex.
CREATE TABLE audit (
    seq     INTEGER PRIMARY KEY,
    at      INTEGER NOT NULL,
    kind    TEXT    NOT NULL,
    actor   TEXT    NOT NULL,
    subject TEXT    NOT NULL,
    data    TEXT    NOT NULL,               -- JSON
    prev    TEXT    NOT NULL,
    hash    TEXT    NOT NULL
);

-- Signed statements of the log's length and head.
CREATE TABLE checkpoints (
    count     INTEGER PRIMARY KEY,
    head      TEXT    NOT NULL,
    at        INTEGER NOT NULL,
    signature TEXT    NOT NULL
);

-- Kill switches in force: `target` is an agent DID, or `all`.
CREATE TABLE kills (
    target    TEXT    PRIMARY KEY,
    killed_at INTEGER NOT NULL
);

-- Owner → service standing delegations for low-risk commands.
CREATE TABLE auto_approvals (
    cid        TEXT    PRIMARY KEY,
    command    TEXT    NOT NULL,
    bytes      BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    removed_at INTEGER
);

-- k approvals from distinct devices for a command prefix.
CREATE TABLE quorum_rules (
    id         TEXT    PRIMARY KEY,
    command    TEXT    NOT NULL,
    "when"     TEXT    NOT NULL,            -- JSON policy statements; [] means always
    approvals  INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

-- Devices' approvals of requests that wait for a quorum: one per device.
CREATE TABLE partial_approvals (
    request_id TEXT    NOT NULL REFERENCES requests (id),
    device_did TEXT    NOT NULL,
    envelope   BLOB    NOT NULL,
    standing   BLOB    NOT NULL,
    at         INTEGER NOT NULL,
    PRIMARY KEY (request_id, device_did)
);

-- Web Push subscriptions of paired devices; a device may have several.
CREATE TABLE push_subscriptions (
    endpoint   TEXT    PRIMARY KEY,        -- the push service's URL (a capability)
    device_id  TEXT    NOT NULL REFERENCES devices (id),
    p256dh     BLOB    NOT NULL,           -- the browser's P-256 key, uncompressed
    auth       BLOB    NOT NULL,           -- its authentication secret
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX push_subscriptions_device ON push_subscriptions (device_id);

-- The notification outbox: one message per request and kind, inserted in the transaction
-- that creates the request (`pending`) or ends it (`closed`).
CREATE TABLE notifications (
    seq           INTEGER PRIMARY KEY,
    request_id    TEXT    NOT NULL REFERENCES requests (id),
    kind          TEXT    NOT NULL CHECK (kind IN ('pending', 'closed')),
    created_at    INTEGER NOT NULL,
    fanned_out_at INTEGER,                 -- set once its deliveries exist
    UNIQUE (request_id, kind)
);
CREATE INDEX notifications_waiting ON notifications (seq) WHERE fanned_out_at IS NULL;

-- One delivery per message and target: a push endpoint, or '' for ntfy and the webhook.
-- `attempts` counts claims and fences them; `locked_until` is the claiming worker's lease.
CREATE TABLE deliveries (
    id           INTEGER PRIMARY KEY,
    notification INTEGER NOT NULL REFERENCES notifications (seq),
    request_id   TEXT    NOT NULL,
    kind         TEXT    NOT NULL CHECK (kind IN ('pending', 'closed')),
    channel      TEXT    NOT NULL CHECK (channel IN ('push', 'ntfy', 'webhook')),
    target       TEXT    NOT NULL,
    state        TEXT    NOT NULL CHECK (state IN ('queued', 'sent', 'failed', 'skipped')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_at      INTEGER NOT NULL,
    locked_until INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    done_at      INTEGER,
    UNIQUE (notification, channel, target)
);
CREATE INDEX deliveries_due ON deliveries (next_at, id) WHERE state = 'queued';
CREATE INDEX deliveries_request ON deliveries (request_id, channel, target);
