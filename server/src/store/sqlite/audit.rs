//! SQLite: the hash-chained audit log and its signed checkpoints.

use sqlx::{SqliteConnection, SqlitePool};

use super::{begin, rows};
use crate::audit::{Checkpoint, Entry, GENESIS, hex};
use crate::store::{AuditEvent, Result};
use rows::Columns;

/// Appends `events` after the log's current head, each chained to the one before.
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
    for e in rows::chain(rows::head(last.as_ref())?, events) {
        sqlx::query(
            "INSERT INTO audit (seq, at, kind, actor, subject, data, prev, hash)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(e.seq)
        .bind(e.at)
        .bind(&e.kind)
        .bind(&e.actor)
        .bind(&e.subject)
        .bind(rows::json_text(&e.data))
        .bind(&e.prev)
        .bind(&e.hash)
        .execute(&mut *conn)
        .await?;
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
