-- Countersign schema (PostgreSQL). Timestamps are unix seconds; DIDs and commands are
-- text; JSON values are text (kept byte for byte); token lists are BYTEA arrays.

CREATE TABLE agents (
    name         TEXT   PRIMARY KEY,
    did          TEXT   NOT NULL UNIQUE,
    allow        TEXT   NOT NULL,           -- JSON array of command strings
    max_pending  BIGINT NOT NULL,
    rate_per_min BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    suspended_at BIGINT                     -- set while suspended (after repeated denials)
);

CREATE TABLE devices (
    id         TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL,
    did        TEXT    NOT NULL,
    standing   BYTEA[] NOT NULL,            -- owner → device delegations
    created_at BIGINT  NOT NULL,
    removed_at BIGINT
);
-- One active device per key; removed devices keep their rows.
CREATE UNIQUE INDEX devices_active_did ON devices (did) WHERE removed_at IS NULL;

CREATE TABLE pairings (
    id              TEXT   PRIMARY KEY,
    code_hash       BYTEA  NOT NULL,
    name            TEXT,
    allow           TEXT   NOT NULL,        -- JSON array of command strings
    policy          TEXT   NOT NULL,        -- JSON
    device_lifetime BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    state           TEXT   NOT NULL CHECK (state IN ('open', 'claimed', 'confirmed')),
    device_did      TEXT,
    device_name     TEXT,
    device_id       TEXT   REFERENCES devices (id)
);
CREATE INDEX pairings_code_hash ON pairings (code_hash, state);

CREATE TABLE requests (
    seq               BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
    lifetime          BIGINT  NOT NULL,
    code              TEXT    NOT NULL,
    created_at        BIGINT  NOT NULL,
    expires_at        BIGINT  NOT NULL,
    state             TEXT    NOT NULL
        CHECK (state IN ('pending', 'approved', 'denied', 'expired', 'withdrawn', 'cancelled')),
    decided_at        BIGINT,
    decided_by        TEXT,
    denial_reason     TEXT,
    evidence          BYTEA,
    chain             BYTEA[] NOT NULL,     -- root first
    issued_cid        TEXT,
    issued_expires_at BIGINT
);
CREATE INDEX requests_agent_created ON requests (agent_did, created_at, seq);
CREATE INDEX requests_state_created ON requests (state, created_at, seq);
CREATE INDEX requests_state_expires ON requests (state, expires_at);

-- The revocation feed: `cursor` is its strictly increasing position (rows are inserted
-- under the log's advisory lock, so cursors commit in order).
CREATE TABLE revocations (
    cursor     BIGSERIAL PRIMARY KEY,
    cid        TEXT      NOT NULL UNIQUE,
    revoked_at BIGINT    NOT NULL,
    revoked_by TEXT      NOT NULL,         -- a DID, or `owner`
    reason     TEXT      NOT NULL,
    record     TEXT                         -- the signed revocation record (JSON), if any
);

CREATE TABLE used_jtis (
    issuer     TEXT   NOT NULL,
    jti        TEXT   NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (issuer, jti)
);
CREATE INDEX used_jtis_expires ON used_jtis (expires_at);

-- Tokens the service stored or issued, and who may revoke each.
CREATE TABLE tokens (
    cid        TEXT   PRIMARY KEY,
    kind       TEXT   NOT NULL,             -- standing, approval, issued, auto, …
    issuer     TEXT   NOT NULL,
    audience   TEXT   NOT NULL,
    command    TEXT   NOT NULL,
    request_id TEXT,
    agent_did  TEXT,
    issued_at  BIGINT NOT NULL,
    expires_at BIGINT,
    revokers   TEXT   NOT NULL,             -- JSON array of DIDs, root first
    bytes      BYTEA  NOT NULL
);
CREATE INDEX tokens_agent_issued ON tokens (agent_did, issued_at);
CREATE INDEX tokens_kind_issued ON tokens (kind, issued_at);

-- The hash-chained audit log: seq 1, 2, 3… without gaps; hashes are hex.
CREATE TABLE audit (
    seq     BIGINT PRIMARY KEY,
    at      BIGINT NOT NULL,
    kind    TEXT   NOT NULL,
    actor   TEXT   NOT NULL,
    subject TEXT   NOT NULL,
    data    TEXT   NOT NULL,                -- JSON
    prev    TEXT   NOT NULL,
    hash    TEXT   NOT NULL
);

-- Signed statements of the log's length and head.
CREATE TABLE checkpoints (
    count     BIGINT PRIMARY KEY,
    head      TEXT   NOT NULL,
    at        BIGINT NOT NULL,
    signature TEXT   NOT NULL
);

-- Kill switches in force: `target` is an agent DID, or `all`.
CREATE TABLE kills (
    target    TEXT   PRIMARY KEY,
    killed_at BIGINT NOT NULL
);

-- Owner → service standing delegations for low-risk commands.
CREATE TABLE auto_approvals (
    cid        TEXT   PRIMARY KEY,
    command    TEXT   NOT NULL,
    bytes      BYTEA  NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    removed_at BIGINT
);

-- k approvals from distinct devices for a command prefix.
CREATE TABLE quorum_rules (
    id         TEXT   PRIMARY KEY,
    command    TEXT   NOT NULL,
    "when"     TEXT   NOT NULL,             -- JSON policy statements; [] means always
    approvals  BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Devices' approvals of requests that wait for a quorum: one per device.
CREATE TABLE partial_approvals (
    request_id TEXT   NOT NULL REFERENCES requests (id),
    device_did TEXT   NOT NULL,
    envelope   BYTEA  NOT NULL,
    standing   BYTEA  NOT NULL,
    at         BIGINT NOT NULL,
    PRIMARY KEY (request_id, device_did)
);

-- Web Push subscriptions of paired devices; a device may have several.
CREATE TABLE push_subscriptions (
    endpoint   TEXT   PRIMARY KEY,         -- the push service's URL (a capability)
    device_id  TEXT   NOT NULL REFERENCES devices (id),
    p256dh     BYTEA  NOT NULL,            -- the browser's P-256 key, uncompressed
    auth       BYTEA  NOT NULL,            -- its authentication secret
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX push_subscriptions_device ON push_subscriptions (device_id);

-- The notification outbox: one message per request and kind, inserted in the transaction
-- that creates the request (`pending`) or ends it (`closed`).
CREATE TABLE notifications (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id    TEXT   NOT NULL REFERENCES requests (id),
    kind          TEXT   NOT NULL CHECK (kind IN ('pending', 'closed')),
    created_at    BIGINT NOT NULL,
    fanned_out_at BIGINT,                  -- set once its deliveries exist
    UNIQUE (request_id, kind)
);
CREATE INDEX notifications_waiting ON notifications (seq) WHERE fanned_out_at IS NULL;

-- One delivery per message and target: a push endpoint, or '' for ntfy and the webhook.
-- `attempts` counts claims and fences them; `locked_until` is the claiming worker's lease.
CREATE TABLE deliveries (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    notification BIGINT NOT NULL REFERENCES notifications (seq),
    request_id   TEXT   NOT NULL,
    kind         TEXT   NOT NULL CHECK (kind IN ('pending', 'closed')),
    channel      TEXT   NOT NULL CHECK (channel IN ('push', 'ntfy', 'webhook')),
    target       TEXT   NOT NULL,
    state        TEXT   NOT NULL CHECK (state IN ('queued', 'sent', 'failed', 'skipped')),
    attempts     BIGINT NOT NULL DEFAULT 0,
    next_at      BIGINT NOT NULL,
    locked_until BIGINT NOT NULL DEFAULT 0,
    last_error   TEXT,
    done_at      BIGINT,
    UNIQUE (notification, channel, target)
);
CREATE INDEX deliveries_due ON deliveries (next_at, id) WHERE state = 'queued';
CREATE INDEX deliveries_request ON deliveries (request_id, channel, target);
