//! The gateway's local SQLite store (WAL, `synchronous = FULL`): invocations accepted
//! (replay), the revocation view and its cursor, and the receipt queue.
//!
//! Every write goes through one writer task that commits concurrent requests together in
//! one transaction (group commit): each caller that waits is answered only once its
//! batch is durable, and the cost of the `fsync` is shared by the whole batch.
//!
//! Accepted invocations are an append-only log; the writer keeps the unexpired CIDs in
//! memory, read from the log when the store opens, and refuses a CID it holds. A CID is
//! answered "new" only once its row is committed, so a crash never lets one run twice.

mod writer;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use countersign_core::Cid;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{Connection, Row};
use tokio::sync::{Notify, mpsc, oneshot};

use writer::Op;
pub use writer::WriterStats;

/// How long a statement waits for another connection's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Small pages: a busy gateway dirties one random page of the replay table per
/// invocation, and every dirty page is written whole to the WAL at each commit.
const PAGE_SIZE: u32 = 1024;
/// Page cache of the writer connection, in KiB: the replay keys of a busy gateway.
const WRITER_CACHE_KIB: i64 = 64 * 1024;
/// WAL pages between checkpoints (16 MiB of 1 KiB pages). A checkpoint copies every page
/// the WAL holds back into the database, once however often it was written, and runs in
/// the commit that crosses the mark: a long interval writes each hot page of the replay
/// table once per interval rather than once per few transactions.
const CHECKPOINT_PAGES: u32 = 16 * 1024;

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database failed; the message is for logs, never for clients.
    #[error("database error: {0}")]
    Database(String),
    /// The writer task has stopped.
    #[error("the store is closed")]
    Closed,
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Database(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// An invocation to accept once, with the receipt of its upstream call (in progress).
#[derive(Clone, Debug)]
pub struct Claim {
    pub cid: Cid,
    pub route: String,
    /// The invocation's `exp`: until then, the same CID is refused.
    pub expires_at: i64,
    pub at: i64,
}

/// How an attempt ended, as a receipt says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    UpstreamError,
    /// The upstream may or may not have acted (a timeout, or a crash during the call).
    Unknown,
    /// Refused after the chain was found valid (the receipt's `error` says why).
    Refused,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::UpstreamError => "upstream_error",
            Outcome::Unknown => "unknown",
            Outcome::Refused => "refused",
        }
    }
}

/// A receipt ready to deliver: the end of an attempt, or a refusal.
#[derive(Clone, Debug)]
pub struct Record {
    pub invocation: Cid,
    /// `attempt`, or the kind of the refusal.
    pub kind: String,
    pub route: String,
    pub outcome: Outcome,
    pub status: u16,
    pub at: i64,
    pub expires_at: i64,
}

/// The kind of the receipt of an upstream call.
pub const ATTEMPT: &str = "attempt";

/// A receipt waiting for delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    pub id: i64,
    pub invocation: String,
    pub kind: String,
    pub route: String,
    pub outcome: String,
    pub status: i64,
    pub at: i64,
}

/// One entry of the revocation feed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct Revocation {
    pub cursor: i64,
    pub cid: String,
    pub revoked_at: i64,
}

/// The store: a handle on the writer task and a pool for reads. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    writer: mpsc::UnboundedSender<Op>,
    reads: SqlitePool,
    receipts_ready: Arc<Notify>,
    stats: Arc<WriterStats>,
}

impl Store {
    /// Opens (creating if missing) `gateway.db` in `dir`, migrates it, and marks receipts
    /// left in progress by a previous run as `unknown`: their upstream call may or may
    /// not have happened.
    pub async fn open(dir: &Path, now: i64) -> Result<Store> {
        let url = format!("sqlite:{}", dir.join("gateway.db").display());
        let options = SqliteConnectOptions::from_str(&url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .page_size(PAGE_SIZE)
            .busy_timeout(BUSY_TIMEOUT);
        let reads = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations").run(&reads).await?;
        let orphans = report_orphans(&reads, now).await?;
        if orphans > 0 {
            tracing::warn!(
                receipts = orphans,
                "upstream calls were under way when the gateway stopped; their receipts say \
                 outcome \"unknown\""
            );
        }
        let accepted = writer::Accepted::load(&reads).await?;
        let writer_options = options
            .pragma("cache_size", format!("-{WRITER_CACHE_KIB}"))
            .pragma("wal_autocheckpoint", CHECKPOINT_PAGES.to_string());
        let (tx, rx) = mpsc::unbounded_channel();
        let receipts_ready = Arc::new(Notify::new());
        let stats = Arc::new(WriterStats::default());
        let (started, connected) = oneshot::channel();
        let (ready, writer_stats) = (receipts_ready.clone(), stats.clone());
        // The writer has a thread of its own, so that its turn never waits behind request
        // handlers: every invocation in flight waits for its commit.
        std::thread::Builder::new()
            .name("gateway-store".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = started.send(Err(StoreError::Database(e.to_string())));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match SqliteConnection::connect_with(&writer_options).await {
                        Ok(conn) => {
                            let _ = started.send(Ok(()));
                            writer::run(conn, accepted, rx, ready, writer_stats).await;
                        }
                        Err(e) => {
                            let _ = started.send(Err(e.into()));
                        }
                    }
                });
            })
            .map_err(|e| StoreError::Database(format!("cannot start the writer: {e}")))?;
        connected.await.map_err(|_| StoreError::Closed)??;
        Ok(Store {
            writer: tx,
            reads,
            receipts_ready,
            stats,
        })
    }

    /// Accepts an invocation once: `true` if it is new (and its in-progress receipt is
    /// durably queued), `false` if it was accepted before.
    pub async fn claim(&self, claim: Claim) -> Result<bool> {
        let (reply, answer) = oneshot::channel();
        self.send(Op::Claim(claim, reply))?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Queues a receipt for delivery, without waiting for it to be durable: a receipt
    /// lost in a crash is still delivered, as in progress → `unknown`.
    pub fn record(&self, record: Record) {
        if self.send(Op::Record(record)).is_err() {
            tracing::error!("the store is closed; a receipt was not recorded");
        }
    }

    /// Durably adds revoked CIDs and moves the feed cursor forward.
    pub async fn revoke(&self, items: Vec<Revocation>, cursor: i64) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        self.send(Op::Revoke(items, cursor, reply))?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Marks receipts as delivered.
    pub async fn delivered(&self, ids: Vec<i64>) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        self.send(Op::Delivered(ids, reply))?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Forgets accepted invocations and reported refusals that expired before `before`.
    pub async fn prune(&self, before: i64) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        self.send(Op::Prune(before, reply))?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// The feed cursor and every revoked CID.
    pub async fn revocations(&self) -> Result<(i64, Vec<String>)> {
        let cursor: Option<i64> = sqlx::query_scalar("SELECT cursor FROM feed_state WHERE id = 1")
            .fetch_optional(&self.reads)
            .await?;
        let cids = sqlx::query_scalar("SELECT cid FROM revoked")
            .fetch_all(&self.reads)
            .await?;
        Ok((cursor.unwrap_or(0), cids))
    }

    /// Receipts waiting for delivery, oldest first.
    pub async fn pending(&self, limit: i64) -> Result<Vec<Pending>> {
        let rows = sqlx::query(
            "SELECT id, invocation, kind, route, outcome, status, at FROM outbox \
             ORDER BY id LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.reads)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Pending {
                    id: r.try_get("id")?,
                    invocation: r.try_get("invocation")?,
                    kind: r.try_get("kind")?,
                    route: r.try_get("route")?,
                    outcome: r.try_get("outcome")?,
                    status: r.try_get("status")?,
                    at: r.try_get("at")?,
                })
            })
            .collect()
    }

    /// Upstream calls under way (their invocations' CIDs).
    pub async fn inflight(&self) -> Result<Vec<String>> {
        let cids: Vec<Vec<u8>> = sqlx::query_scalar("SELECT cid FROM accepted WHERE ended = 0")
            .fetch_all(&self.reads)
            .await?;
        cids.iter().map(|c| cid_text(c)).collect()
    }

    /// How the writer has been doing (for benchmarks and inspection).
    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }

    /// Notified after receipts to deliver were committed.
    pub fn receipts_ready(&self) -> &Notify {
        &self.receipts_ready
    }

    fn send(&self, op: Op) -> Result<()> {
        self.writer.send(op).map_err(|_| StoreError::Closed)
    }
}

/// Turns the calls a previous run left under way into receipts saying `unknown`: their
/// upstream call may or may not have happened. Returns how many.
async fn report_orphans(reads: &SqlitePool, now: i64) -> Result<usize> {
    let mut tx = reads.begin().await?;
    let orphans = sqlx::query("SELECT id, cid, route FROM accepted WHERE ended = 0 ORDER BY id")
        .fetch_all(&mut *tx)
        .await?;
    for row in &orphans {
        let cid: Vec<u8> = row.try_get("cid")?;
        sqlx::query(
            "INSERT INTO outbox (invocation, kind, route, outcome, status, at) \
             VALUES (?, ?, ?, 'unknown', 0, ?)",
        )
        .bind(cid_text(&cid)?)
        .bind(ATTEMPT)
        .bind(row.try_get::<String, _>("route")?)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query("UPDATE accepted SET ended = 1 WHERE ended = 0")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(orphans.len())
}

/// A binary CID from the store, as text.
fn cid_text(bytes: &[u8]) -> Result<String> {
    Cid::from_bytes(bytes)
        .map(|c| c.to_string())
        .map_err(|e| StoreError::Database(format!("a stored CID does not parse: {e}")))
}
