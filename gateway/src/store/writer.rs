//! The single writer: takes every write waiting in its queue, applies them in one
//! transaction, commits once, then answers each caller.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::sqlite::{SqliteConnection, SqlitePool};
use sqlx::{Connection, QueryBuilder, Row, Sqlite};
use tokio::sync::{Notify, mpsc, oneshot};

use super::{ATTEMPT, Claim, Record, Result, Revocation, StoreError};

/// Most operations committed in one transaction.
const MAX_BATCH: usize = 512;
/// Rows per multi-row statement (well under SQLite's limit of bound values).
const ROWS_PER_STATEMENT: usize = 200;

type Reply<T> = oneshot::Sender<Result<T>>;

/// How the writer has been doing: transactions, operations, time spent in them.
#[derive(Debug, Default)]
pub struct WriterStats {
    transactions: AtomicU64,
    operations: AtomicU64,
    micros: AtomicU64,
}

impl WriterStats {
    fn record(&self, operations: usize, took: Duration) {
        self.transactions.fetch_add(1, Ordering::Relaxed);
        self.operations
            .fetch_add(operations as u64, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Transactions committed, operations in them, and the time they took in total.
    pub fn totals(&self) -> (u64, u64, Duration) {
        (
            self.transactions.load(Ordering::Relaxed),
            self.operations.load(Ordering::Relaxed),
            Duration::from_micros(self.micros.load(Ordering::Relaxed)),
        )
    }
}

/// The invocations accepted and not yet forgotten, by binary CID. Only the writer holds
/// it, and changes it only after the transaction that wrote the same change committed.
#[derive(Debug, Default)]
pub(super) struct Accepted {
    by_cid: HashMap<Box<[u8]>, Entry>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// The row in `accepted`.
    id: i64,
    expires_at: i64,
    /// The upstream call has ended (its receipt is queued).
    ended: bool,
}

impl Accepted {
    /// Every row of the log.
    pub(super) async fn load(reads: &SqlitePool) -> Result<Accepted> {
        let rows = sqlx::query("SELECT id, cid, expires_at, ended FROM accepted")
            .fetch_all(reads)
            .await?;
        let mut by_cid = HashMap::with_capacity(rows.len());
        for row in rows {
            let cid: Vec<u8> = row.try_get("cid")?;
            let entry = Entry {
                id: row.try_get("id")?,
                expires_at: row.try_get("expires_at")?,
                ended: row.try_get::<i64, _>("ended")? != 0,
            };
            by_cid.insert(cid.into_boxed_slice(), entry);
        }
        Ok(Accepted { by_cid })
    }
}

/// What a committed transaction changes in memory.
#[derive(Debug, Default)]
struct Applied {
    /// CIDs accepted, with their rows.
    accepted: Vec<(Box<[u8]>, Entry)>,
    /// Rows whose call ended.
    ended: Vec<Box<[u8]>>,
    /// Entries that expired before this moment were forgotten.
    pruned_before: Option<i64>,
}

#[derive(Debug)]
pub(super) enum Op {
    Claim(Claim, Reply<bool>),
    Record(Record),
    Revoke(Vec<Revocation>, i64, Reply<()>),
    Delivered(Vec<i64>, Reply<()>),
    Prune(i64, Reply<()>),
}

pub(super) async fn run(
    mut conn: SqliteConnection,
    mut accepted: Accepted,
    mut rx: mpsc::UnboundedReceiver<Op>,
    receipts_ready: Arc<Notify>,
    stats: Arc<WriterStats>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(op) = rx.recv().await {
        batch.push(op);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let started = Instant::now();
        let result = apply(&mut conn, &accepted, &batch).await;
        stats.record(batch.len(), started.elapsed());
        let result = match result {
            Ok(applied) => {
                let new = applied
                    .accepted
                    .iter()
                    .map(|(cid, _)| cid.clone())
                    .collect();
                accepted.commit(applied);
                Ok(new)
            }
            Err(e) => {
                tracing::error!(error = %e, ops = batch.len(), "a store transaction failed");
                Err(e)
            }
        };
        let records = batch.iter().any(|op| matches!(op, Op::Record(_)));
        answer(batch.drain(..), result.map_err(StoreError::from));
        if records {
            receipts_ready.notify_one();
        }
    }
}

impl Accepted {
    fn commit(&mut self, applied: Applied) {
        self.by_cid.extend(applied.accepted);
        for cid in applied.ended {
            if let Some(entry) = self.by_cid.get_mut(&cid) {
                entry.ended = true;
            }
        }
        if let Some(before) = applied.pruned_before {
            self.by_cid.retain(|_, e| !forgotten(e, before));
        }
    }
}

/// Whether an entry is dropped by a prune of what expired before `before`: a call still
/// under way is kept, so that its end can be recorded.
fn forgotten(entry: &Entry, before: i64) -> bool {
    entry.ended && entry.expires_at < before
}

/// Answers every caller of a batch; of several claims of one CID, only the first wins.
fn answer(batch: impl Iterator<Item = Op>, result: Result<HashSet<Box<[u8]>>>) {
    let mut answered = HashSet::new();
    for op in batch {
        match op {
            Op::Claim(claim, reply) => {
                let key = claim.cid.as_bytes();
                let won = result
                    .as_ref()
                    .map(|inserted| inserted.contains(key) && answered.insert(key.to_vec()));
                let _ = reply.send(won.map_err(Clone::clone));
            }
            Op::Revoke(_, _, reply) | Op::Delivered(_, reply) | Op::Prune(_, reply) => {
                let _ = reply.send(result.as_ref().map(|_| ()).map_err(Clone::clone));
            }
            Op::Record(_) => {}
        }
    }
}

/// Applies a batch in one transaction; returns what changes in memory once it commits.
async fn apply(
    conn: &mut SqliteConnection,
    accepted: &Accepted,
    batch: &[Op],
) -> sqlx::Result<Applied> {
    let mut seen = HashSet::new();
    let mut claims = Vec::new();
    let mut ended = Vec::new();
    let mut refusals = Vec::new();
    let mut delivered = Vec::new();
    let mut revocations = Vec::new();
    let mut cursor = None;
    let mut prune = None;
    for op in batch {
        match op {
            Op::Claim(c, _) => {
                let key = c.cid.as_bytes();
                if !accepted.by_cid.contains_key(key) && seen.insert(key) {
                    claims.push(c);
                }
            }
            Op::Record(r) if r.kind == ATTEMPT => ended.push(r),
            Op::Record(r) => refusals.push(r),
            Op::Delivered(ids, _) => delivered.extend_from_slice(ids),
            Op::Revoke(items, c, _) => {
                revocations.extend(items.iter());
                cursor = cursor.max(Some(*c));
            }
            Op::Prune(before, _) => prune = prune.max(Some(*before)),
        }
    }
    let mut applied = Applied {
        pruned_before: prune,
        ..Applied::default()
    };
    let mut tx = conn.begin().await?;
    applied.accepted = accept(&mut tx, &claims).await?;
    // Receipts to deliver: the ends of calls, and refusals not reported before.
    let mut outbox: Vec<&Record> = ended.clone();
    for chunk in refusals.chunks(ROWS_PER_STATEMENT) {
        let mut q =
            QueryBuilder::<Sqlite>::new("INSERT INTO refusals (invocation, kind, expires_at) ");
        q.push_values(chunk, |mut row, r| {
            row.push_bind(r.invocation.to_string())
                .push_bind(r.kind.clone())
                .push_bind(r.expires_at);
        });
        q.push(" ON CONFLICT DO NOTHING RETURNING invocation, kind");
        let new: HashSet<(String, String)> = q
            .build_query_as()
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .collect();
        outbox.extend(
            chunk
                .iter()
                .filter(|r| new.contains(&(r.invocation.to_string(), r.kind.clone()))),
        );
    }
    for chunk in outbox.chunks(ROWS_PER_STATEMENT) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO outbox (invocation, kind, route, outcome, status, at) ",
        );
        q.push_values(chunk, |mut row, r| {
            row.push_bind(r.invocation.to_string())
                .push_bind(r.kind.clone())
                .push_bind(r.route.clone())
                .push_bind(r.outcome.as_str())
                .push_bind(i64::from(r.status))
                .push_bind(r.at);
        });
        q.build().execute(&mut *tx).await?;
    }
    // The calls that ended: their rows are known in memory (a call under way is never
    // forgotten), and lie near the end of the log.
    let rows: Vec<i64> = ended
        .iter()
        .filter_map(|r| accepted.by_cid.get(r.invocation.as_bytes()).map(|e| e.id))
        .collect();
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut q = QueryBuilder::<Sqlite>::new("UPDATE accepted SET ended = 1 WHERE id IN (");
        let mut ids = q.separated(", ");
        for id in chunk {
            ids.push_bind(*id);
        }
        q.push(")");
        q.build().execute(&mut *tx).await?;
    }
    applied.ended = ended
        .iter()
        .map(|r| r.invocation.as_bytes().into())
        .collect();
    for chunk in delivered.chunks(ROWS_PER_STATEMENT) {
        let mut q = QueryBuilder::<Sqlite>::new("DELETE FROM outbox WHERE id IN (");
        let mut ids = q.separated(", ");
        for id in chunk {
            ids.push_bind(*id);
        }
        q.push(")");
        q.build().execute(&mut *tx).await?;
    }
    for chunk in revocations.chunks(ROWS_PER_STATEMENT) {
        let mut q = QueryBuilder::<Sqlite>::new("INSERT INTO revoked (cid, revoked_at, cursor) ");
        q.push_values(chunk, |mut row, r| {
            row.push_bind(r.cid.clone())
                .push_bind(r.revoked_at)
                .push_bind(r.cursor);
        });
        q.push(" ON CONFLICT (cid) DO NOTHING");
        q.build().execute(&mut *tx).await?;
    }
    if let Some(cursor) = cursor {
        sqlx::query(
            "INSERT INTO feed_state (id, cursor) VALUES (1, ?) \
             ON CONFLICT (id) DO UPDATE SET cursor = max(cursor, excluded.cursor)",
        )
        .bind(cursor)
        .execute(&mut *tx)
        .await?;
    }
    if let Some(before) = prune {
        sqlx::query("DELETE FROM accepted WHERE expires_at < ? AND ended = 1")
            .bind(before)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM refusals WHERE expires_at < ?")
            .bind(before)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(applied)
}

/// Appends the newly accepted invocations to the log; returns them with their rows.
async fn accept(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    claims: &[&Claim],
) -> sqlx::Result<Vec<(Box<[u8]>, Entry)>> {
    let mut accepted = Vec::with_capacity(claims.len());
    for chunk in claims.chunks(ROWS_PER_STATEMENT) {
        let mut q =
            QueryBuilder::<Sqlite>::new("INSERT INTO accepted (cid, expires_at, route, at) ");
        q.push_values(chunk, |mut row, c| {
            row.push_bind(c.cid.as_bytes().to_vec())
                .push_bind(c.expires_at)
                .push_bind(c.route.clone())
                .push_bind(c.at);
        });
        q.push(" RETURNING id, cid, expires_at");
        for row in q.build().fetch_all(&mut **tx).await? {
            let cid: Vec<u8> = row.try_get("cid")?;
            let entry = Entry {
                id: row.try_get("id")?,
                expires_at: row.try_get("expires_at")?,
                ended: false,
            };
            accepted.push((cid.into_boxed_slice(), entry));
        }
    }
    Ok(accepted)
}
