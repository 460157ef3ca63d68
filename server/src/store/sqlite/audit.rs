//! SQLite: the hash-chained audit log and its signed checkpoints.

use sqlx::{QueryBuilder, Sqlite, SqliteConnection, SqlitePool};

use super::{begin, rows};
use crate::audit::{Checkpoint, Entry, GENESIS, hex};
use crate::store::{AuditEvent, Result};
use rows::Columns;

/// Entries per `INSERT` (eight bound values each, well under SQLite's limit).
const ROWS_PER_STATEMENT: usize = 200;

/// Appends `events` after the log's current head, each chained to the one before, in one
/// statement per 200 of them.
///
/// The caller's transaction must hold the database's write lock (`BEGIN IMMEDIATE`, as
/// every write of this backend does): no other writer can append between the read of the
/// head and the inserts, so the log stays one chain.
pub(super) async fn append_audit(conn: &mut SqliteConnection, events: &[AuditEvent]) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let last = sqlx::query("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut *conn)
        .await?;
    let entries = rows::chain(rows::head(last.as_ref())?, events);
    for chunk in entries.chunks(ROWS_PER_STATEMENT) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO audit (seq, at, kind, actor, subject, data, prev, hash) ",
        );
        q.push_values(chunk, |mut row, e| {
            row.push_bind(e.seq)
                .push_bind(e.at)
                .push_bind(&e.kind)
                .push_bind(&e.actor)
                .push_bind(&e.subject)
                .push_bind(rows::json_text(&e.data))
                .push_bind(&e.prev)
                .push_bind(&e.hash);
        });
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Marks each item's id used and appends the events whose id was new, the first of them
/// with the evidence, in one transaction.
pub(super) async fn append_once(
    pool: &SqlitePool,
    issuer: &countersign_core::Did,
    expires_at: i64,
    items: &[(String, AuditEvent)],
    evidence: (&str, &str),
) -> Result<Vec<bool>> {
    let issuer = issuer.to_string();
    let mut tx = begin(pool).await?;
    let mut fresh = Vec::with_capacity(items.len());
    let mut events = Vec::new();
    for (id, event) in items {
        let new = sqlx::query(
            "INSERT INTO used_jtis (issuer, jti, expires_at) VALUES (?, ?, ?)
             ON CONFLICT (issuer, jti) DO NOTHING",
        )
        .bind(&issuer)
        .bind(id)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if new {
            let mut event = event.clone();
            if events.is_empty() {
                event.data[evidence.0] = evidence.1.into();
            }
            events.push(event);
        }
        fresh.push(new);
    }
    append_audit(&mut tx, &events).await?;
    tx.commit().await?;
    Ok(fresh)
}

/// Appends events that accompany no other change, in a transaction of their own.
pub(super) async fn append(pool: &SqlitePool, events: &[AuditEvent]) -> Result<()> {
    let mut tx = begin(pool).await?;
    append_audit(&mut tx, events).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn entries(pool: &SqlitePool, after: i64, limit: u32) -> Result<Vec<Entry>> {
    let found = sqlx::query("SELECT * FROM audit WHERE seq > ? ORDER BY seq LIMIT ?")
        .bind(after)
        .bind(rows::feed_limit(limit))
        .fetch_all(pool)
        .await?;
    found.iter().map(rows::entry).collect()
}

/// The number of entries (seq runs 1, 2, 3… without gaps) and the last one's hash.
pub(super) async fn head(pool: &SqlitePool) -> Result<(i64, String)> {
    let last = sqlx::query("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
        .fetch_optional(pool)
        .await?;
    match last {
        Some(row) => Ok((row.int("seq")?, row.text("hash")?)),
        None => Ok((0, hex(&GENESIS))),
    }
}

pub(super) async fn add_checkpoint(pool: &SqlitePool, c: &Checkpoint) -> Result<()> {
    sqlx::query("INSERT INTO checkpoints (count, head, at, signature) VALUES (?, ?, ?, ?)")
        .bind(c.count)
        .bind(&c.head)
        .bind(c.at)
        .bind(&c.signature)
        .execute(pool)
        .await?;
    Ok(())
}

pub(super) async fn checkpoints(pool: &SqlitePool, after: i64) -> Result<Vec<Checkpoint>> {
    let found = sqlx::query("SELECT * FROM checkpoints WHERE count > ? ORDER BY count")
        .bind(after)
        .fetch_all(pool)
        .await?;
    found.iter().map(rows::checkpoint).collect()
}
