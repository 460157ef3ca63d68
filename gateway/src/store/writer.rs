//! The single writer: takes every write waiting in its queue, applies them in one
//! transaction, commits once, then answers each caller.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::sqlite::SqliteConnection;
use sqlx::{Connection, QueryBuilder, Sqlite};
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
        let result = apply(&mut conn, &batch).await;
        stats.record(batch.len(), started.elapsed());
        if let Err(e) = &result {
            tracing::error!(error = %e, ops = batch.len(), "a store transaction failed");
        }
        let records = batch.iter().any(|op| matches!(op, Op::Record(_)));
        answer(batch.drain(..), result.map_err(StoreError::from));
        if records {
            receipts_ready.notify_one();
        }
    }
}

/// Answers every caller of a batch; of several claims of one CID, only the first wins.
fn answer(batch: impl Iterator<Item = Op>, result: Result<HashSet<Vec<u8>>>) {
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

/// Applies a batch in one transaction; returns the CIDs (binary) newly claimed.
async fn apply(conn: &mut SqliteConnection, batch: &[Op]) -> sqlx::Result<HashSet<Vec<u8>>> {
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
                if seen.insert(c.cid.as_bytes()) {
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
    let mut tx = conn.begin().await?;
    let inserted = claim(&mut tx, &claims).await?;
    // Receipts to deliver: the ends of calls, and refusals not reported before.
    let mut outbox: Vec<&Record> = ended.clone();
    for chunk in refusals.chunks(ROWS_PER_STATEMENT) {
        let mut q =
            QueryBuilder::<Sqlite>::new("INSERT INTO refusals (invocation, kind, expires_at) ");
        q.push_values(chunk, |mut row, r| {
            row.push_bind(r.invocation.clone())
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
                .filter(|r| new.contains(&(r.invocation.clone(), r.kind.clone()))),
        );
    }
    for chunk in outbox.chunks(ROWS_PER_STATEMENT) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO outbox (invocation, kind, route, outcome, status, at) ",
        );
        q.push_values(chunk, |mut row, r| {
            row.push_bind(r.invocation.clone())
                .push_bind(r.kind.clone())
                .push_bind(r.route.clone())
                .push_bind(r.outcome.as_str())
                .push_bind(i64::from(r.status))
                .push_bind(r.at);
        });
        q.build().execute(&mut *tx).await?;
    }
    for chunk in ended.chunks(ROWS_PER_STATEMENT) {
        let mut q = QueryBuilder::<Sqlite>::new("DELETE FROM inflight WHERE invocation IN (");
        let mut list = q.separated(", ");
        for r in chunk {
            list.push_bind(r.invocation.clone());
        }
        q.push(")");
        q.build().execute(&mut *tx).await?;
    }
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
        for table in ["replay", "refusals"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE expires_at < ?"))
                .bind(before)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(inserted)
}

/// Inserts the replay rows, and the calls under way for those that are new.
async fn claim(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    claims: &[&Claim],
) -> sqlx::Result<HashSet<Vec<u8>>> {
    let mut inserted = HashSet::with_capacity(claims.len());
    for chunk in claims.chunks(ROWS_PER_STATEMENT) {
        let mut q = QueryBuilder::<Sqlite>::new("INSERT INTO replay (cid, expires_at) ");
        q.push_values(chunk, |mut row, c| {
            row.push_bind(c.cid.as_bytes().to_vec())
                .push_bind(c.expires_at);
        });
        q.push(" ON CONFLICT (cid) DO NOTHING RETURNING cid");
        let rows: Vec<Vec<u8>> = q.build_query_scalar().fetch_all(&mut **tx).await?;
        inserted.extend(rows);
    }
    let new: Vec<&&Claim> = claims
        .iter()
        .filter(|c| inserted.contains(c.cid.as_bytes()))
        .collect();
    for chunk in new.chunks(ROWS_PER_STATEMENT) {
        let mut q = QueryBuilder::<Sqlite>::new("INSERT INTO inflight (invocation, route, at) ");
        q.push_values(chunk, |mut row, c| {
            row.push_bind(c.cid.to_string())
                .push_bind(c.route.clone())
                .push_bind(c.at);
        });
        q.build().execute(&mut **tx).await?;
    }
    Ok(inserted)
}
