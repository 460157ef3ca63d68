-- The gateway's local state: invocations accepted (replay), the revocation view, and
-- receipts waiting to be delivered to the service.

CREATE TABLE replay (
    cid TEXT PRIMARY KEY,
    -- The invocation's exp: the row is kept until then (and a margin), then pruned.
    expires_at INTEGER NOT NULL,
    accepted_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX replay_expires ON replay (expires_at);

CREATE TABLE revoked (
    cid TEXT PRIMARY KEY,
    revoked_at INTEGER NOT NULL,
    cursor INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE feed_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    cursor INTEGER NOT NULL
);

CREATE TABLE receipts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    invocation TEXT NOT NULL,
    -- 'attempt' for the upstream call, or the kind of a refusal after validation.
    kind TEXT NOT NULL,
    route TEXT NOT NULL,
    -- in_progress (upstream call under way) | done (to deliver) | delivered
    state TEXT NOT NULL,
    -- ok | upstream_error | unknown | refused; null while in progress
    outcome TEXT,
    status INTEGER NOT NULL DEFAULT 0,
    at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    UNIQUE (invocation, kind)
);

CREATE INDEX receipts_state ON receipts (state);
