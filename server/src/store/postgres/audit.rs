//! PostgreSQL: the hash-chained audit log and its signed checkpoints. Appends (and the
//! revocation feed's inserts) are serialized by one transaction-scoped advisory lock.

use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};

use super::rows;
use crate::audit::{Checkpoint, Entry, GENESIS, hex};
use crate::store::{AuditEvent, Result};
use rows::Columns;

/// The key of the advisory lock that serializes appends to the log and to the
/// revocation feed ("CSLOG"). Single-key locks do not conflict with the two-key agent
/// locks of request creation.
const LOG_LOCK: i64 = 0x43_534c_4f47;

/// Entries per `INSERT` (eight bound values each, well under PostgreSQL's limit).
const ROWS_PER_STATEMENT: usize = 200;

/// Takes the log's lock until the transaction ends. Every transaction takes it last,
/// after its row changes, so it never waits for a row lock while holding it.
pub(super) async fn lock_log(conn: &mut PgConnection) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(LOG_LOCK)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Appends `events` after the log's current head, each chained to the one before.
///
/// Takes the log's lock before reading the head: a concurrent append waits until this
/// transaction ends and then (each statement of a READ COMMITTED transaction sees what
/// committed before it) reads the head this one wrote, so the log stays one chain.
pub(super) async fn append_audit(conn: &mut PgConnection, events: &[AuditEvent]) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    lock_log(conn).await?;
    let last = sqlx::query("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut *conn)
        .await?;
    let entries = rows::chain(rows::head(last.as_ref())?, events);
    for chunk in entries.chunks(ROWS_PER_STATEMENT) {
        let mut q = QueryBuilder::<Postgres>::new(
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
    // Delivered to every listening replica when (and only if) the transaction commits, in
    // the order of the entries.
    let changes: Vec<String> = entries
        .iter()
        .map(|e| super::super::Change::encode(&e.kind, &e.subject))
        .collect();
    sqlx::query(
        "SELECT pg_notify($1, c.change)
         FROM UNNEST($2::text[]) WITH ORDINALITY AS c (change, n) ORDER BY c.n",
    )
    .bind(super::super::CHANGES_CHANNEL)
    .bind(&changes)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Marks each item's id used and appends the events whose id was new, the first of them
/// with the evidence, in one transaction.
pub(super) async fn append_once(
    pool: &PgPool,
    issuer: &countersign_core::Did,
    expires_at: i64,
    items: &[(String, AuditEvent)],
    evidence: (&str, &str),
) -> Result<Vec<bool>> {
    let issuer = issuer.to_string();
    let mut tx = pool.begin().await?;
    let mut fresh = Vec::with_capacity(items.len());
    let mut events = Vec::new();
    for (id, event) in items {
        let new = sqlx::query(
            "INSERT INTO used_jtis (issuer, jti, expires_at) VALUES ($1, $2, $3)
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
pub(super) async fn append(pool: &PgPool, events: &[AuditEvent]) -> Result<()> {
    let mut tx = pool.begin().await?;
    append_audit(&mut tx, events).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn entries(pool: &PgPool, after: i64, limit: u32) -> Result<Vec<Entry>> {
    let found = sqlx::query("SELECT * FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2")
        .bind(after)
        .bind(rows::feed_limit(limit))
        .fetch_all(pool)
        .await?;
    found.iter().map(rows::entry).collect()
}

/// The number of entries (seq runs 1, 2, 3… without gaps) and the last one's hash.
pub(super) async fn head(pool: &PgPool) -> Result<(i64, String)> {
    let last = sqlx::query("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
        .fetch_optional(pool)
        .await?;
    match last {
        Some(row) => Ok((row.int("seq")?, row.text("hash")?)),
        None => Ok((0, hex(&GENESIS))),
    }
}

pub(super) async fn add_checkpoint(pool: &PgPool, c: &Checkpoint) -> Result<()> {
    sqlx::query("INSERT INTO checkpoints (count, head, at, signature) VALUES ($1, $2, $3, $4)")
        .bind(c.count)
        .bind(&c.head)
        .bind(c.at)
        .bind(&c.signature)
        .execute(pool)
        .await?;
    Ok(())
}

pub(super) async fn checkpoints(pool: &PgPool, after: i64) -> Result<Vec<Checkpoint>> {
    let found = sqlx::query("SELECT * FROM checkpoints WHERE count > $1 ORDER BY count")
        .bind(after)
        .fetch_all(pool)
        .await?;
    found.iter().map(rows::checkpoint).collect()
}
