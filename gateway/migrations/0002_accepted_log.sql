-- Invocations accepted become an append-only log: each busy transaction writes the last
-- few pages of the log instead of one random page of a keyed table per invocation. The
-- gateway keeps the unexpired CIDs in memory (read from this table at start) and checks
-- replays there; every accepted CID is in this table before its call is made.

CREATE TABLE accepted (
    id INTEGER PRIMARY KEY,
    -- The invocation's CID, binary.
    cid BLOB NOT NULL,
    -- The invocation's `exp`: until then, the same CID is refused.
    expires_at INTEGER NOT NULL,
    route TEXT NOT NULL,
    at INTEGER NOT NULL,
    -- 0 while the upstream call is under way: a row left so by a crash becomes an
    -- "unknown" receipt at the next start.
    ended INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX accepted_expires ON accepted (expires_at);

INSERT INTO accepted (cid, expires_at, route, at, ended)
    SELECT cid, expires_at, '', 0, 1 FROM replay;

-- Calls under way when the previous version stopped: reported as "unknown".
INSERT INTO outbox (invocation, kind, route, outcome, status, at)
    SELECT invocation, 'attempt', route, 'unknown', 0, at FROM inflight ORDER BY at;

DROP TABLE inflight;
DROP TABLE replay;
