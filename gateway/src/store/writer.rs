//! The single writer: takes every write waiting in its queue, applies them in one
//! transaction, commits once, then answers each caller.

use std::collections::HashSet;
use std::sync::Arc;

use sqlx::sqlite::SqliteConnection;
use sqlx::{Connection, QueryBuilder, Sqlite};
use tokio::sync::{Notify, mpsc, oneshot};

use super::{ATTEMPT, Claim, Record, Result, Revocation, StoreError};

/// Most operations committed in one transaction.
const MAX_BATCH: usize = 512;
/// Rows per multi-row statement (well under SQLite's limit of bound values).
const ROWS_PER_STATEMENT: usize = 200;

type Reply<T> = oneshot::Sender<Result<T>>;

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
        let result = apply(&mut conn, &batch).await;
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
fn answer(batch: impl Iterator<Item = Op>, result: Result<HashSet<String>>) {
    let mut answered = HashSet::new();
    for op in batch {
        match op {
            Op::Claim(claim, reply) => {
                let won = result.as_ref().map(|inserted| {
                    inserted.contains(&claim.invocation)
                        && answered.insert(claim.invocation.clone())
                });
                let _ = reply.send(won.map_err(Clone::clone));
            }
            Op::Revoke(_, _, reply) | Op::Delivered(_, reply) | Op::Prune(_, reply) => {
                let _ = reply.send(result.as_ref().map(|_| ()).map_err(Clone::clone));
            }
            Op::Record(_) => {}
        }
    }
}

/// Applies a batch in one transaction; returns the CIDs newly claimed.
async fn apply(conn: &mut SqliteConnection, batch: &[Op]) -> sqlx::Result<HashSet<String>> {
    let mut seen = HashSet::new();
    let mut claims = Vec::new();
    let mut records = Vec::new();
    let mut delivered = Vec::new();
    let mut revocations = Vec::new();
    let mut cursor = None;
    let mut prune = None;
    for op in batch {
        match op {
            Op::Claim(c, _) => {
                if seen.insert(c.invocation.as_str()) {
                    claims.push(c);
                }
            }
            Op::Record(r) => records.push(r),
            Op::Delivered(ids, _) => delivered.extend_from_slice(ids),
            Op::Revoke(items, c, _) => {
                revocations.extend(items.iter());
                cursor = cursor.max(Some(*c));
            }
            Op::Prune(before, _) => prune = prune.max(Some(*before)),
        }
    }
    let mut tx = conn.begin().await?;
    let mut inserted = HashSet::with_capacity(claims.len());
    for chunk in claims.chunks(ROWS_PER_STATEMENT) {
        let mut q =
            QueryBuilder::<Sqlite>::new("INSERT INTO replay (cid, expires_at, accepted_at) ");
        q.push_values(chunk, |mut row, c| {
            row.push_bind(c.invocation.clone())
                .push_bind(c.expires_at)
                .push_bind(c.at);
        });
        q.push(" ON CONFLICT (cid) DO NOTHING RETURNING cid");
        let rows: Vec<String> = q.build_query_scalar().fetch_all(&mut *tx).await?;
        inserted.extend(rows);
    }
    let new: Vec<&&Claim> = claims
        .iter()
        .filter(|c| inserted.contains(&c.invocation))
        .collect();
    for chunk in new.chunks(ROWS_PER_STATEMENT) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO receipts (invocation, kind, route, state, status, at, expires_at) ",
        );
        q.push_values(chunk, |mut row, c| {
            row.push_bind(c.invocation.clone())
                .push_bind(ATTEMPT)
                .push_bind(c.route.clone())
                .push_bind("in_progress")
                .push_bind(0i64)
                .push_bind(c.at)
                .push_bind(c.expires_at);
        });
        q.build().execute(&mut *tx).await?;
    }
    for chunk in records.chunks(ROWS_PER_STATEMENT) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO receipts (invocation, kind, route, state, outcome, status, at, expires_at) ",
        );
        q.push_values(chunk, |mut row, r| {
            row.push_bind(r.invocation.clone())
                .push_bind(r.kind.clone())
                .push_bind(r.route.clone())
                .push_bind("done")
                .push_bind(r.outcome.as_str())
                .push_bind(i64::from(r.status))
                .push_bind(r.at)
                .push_bind(r.expires_at);
        });
        // The end of an attempt completes its in-progress row; a refusal already
        // recorded for this invocation is not recorded twice.
        q.push(
            " ON CONFLICT (invocation, kind) DO UPDATE SET state = 'done', \
             outcome = excluded.outcome, status = excluded.status, at = excluded.at \
             WHERE receipts.state = 'in_progress'",
        );
        q.build().execute(&mut *tx).await?;
    }
    for chunk in delivered.chunks(ROWS_PER_STATEMENT) {
        let mut q =
            QueryBuilder::<Sqlite>::new("UPDATE receipts SET state = 'delivered' WHERE id IN (");
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
        sqlx::query("DELETE FROM replay WHERE expires_at < ?")
            .bind(before)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM receipts WHERE state = 'delivered' AND expires_at < ?")
            .bind(before)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(inserted)
}
