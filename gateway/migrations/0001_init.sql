-- The gateway's local state: invocations accepted (replay), calls under way, receipts
-- waiting for delivery, and the revocation view. Every write of a busy gateway touches
-- one random page (the replay key); the rest are appends and small tables.

-- Each invocation accepted, by binary CID, kept until it expires (and a margin).
CREATE TABLE replay (
    cid BLOB PRIMARY KEY,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX replay_expires ON replay (expires_at);

-- Upstream calls under way. A row left here by a crash becomes an "unknown" receipt.
CREATE TABLE inflight (
    invocation TEXT PRIMARY KEY,
    route TEXT NOT NULL,
    at INTEGER NOT NULL
) WITHOUT ROWID;

-- Receipts waiting for delivery, oldest first; deleted once the service has them.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    invocation TEXT NOT NULL,
    -- 'attempt' for the upstream call, or the kind of a refusal after validation.
    kind TEXT NOT NULL,
    route TEXT NOT NULL,
    -- ok | upstream_error | unknown | refused
    outcome TEXT NOT NULL,
    status INTEGER NOT NULL,
    at INTEGER NOT NULL
);

-- Refusals already reported, so that each is reported once per invocation.
CREATE TABLE refusals (
    invocation TEXT NOT NULL,
    kind TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (invocation, kind)
) WITHOUT ROWID;

CREATE TABLE revoked (
    cid TEXT PRIMARY KEY,
    revoked_at INTEGER NOT NULL,
    cursor INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE feed_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    cursor INTEGER NOT NULL
);
