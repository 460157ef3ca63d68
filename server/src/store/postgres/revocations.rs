//! PostgreSQL: the tokens the service keeps, and the revocation feed (`cursor` is a
//! BIGSERIAL drawn under the log's advisory lock, so cursors commit in increasing order).

use countersign_core::Did;
use sqlx::{PgConnection, PgPool};

use super::audit::{append_audit, lock_log};
use super::rows;
use crate::store::{AuditEvent, Result, RevokedEntry, Timestamp, TokenRecord};
use rows::Columns;

/// Adds a CID to the feed unless it is there already; returns its new cursor, if added.
/// (`entry.cursor` is ignored: the feed assigns it.) Takes the log's lock first, so
/// cursors are drawn and committed in one order: a reader never skips one.
pub(super) async fn insert_revocation(
    conn: &mut PgConnection,
    entry: &RevokedEntry,
) -> Result<Option<i64>> {
    lock_log(conn).await?;
    let added = sqlx::query(
        "INSERT INTO revocations (cid, revoked_at, revoked_by, reason, record)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (cid) DO NOTHING RETURNING cursor",
    )
    .bind(&entry.cid)
    .bind(entry.revoked_at)
    .bind(&entry.revoked_by)
    .bind(&entry.reason)
    .bind(&entry.record)
    .fetch_optional(&mut *conn)
    .await?;
    added.map(|row| row.int("cursor")).transpose()
}

/// Revokes a CID with its audit events, unless it was revoked already (then nothing
/// is appended and the result is `None`).
pub(super) async fn revoke(
    pool: &PgPool,
    entry: &RevokedEntry,
    audit: &[AuditEvent],
) -> Result<Option<i64>> {
    let mut tx = pool.begin().await?;
    let cursor = insert_revocation(&mut tx, entry).await?;
    if cursor.is_some() {
        append_audit(&mut tx, audit).await?;
        tx.commit().await?;
    }
    Ok(cursor)
}

pub(super) async fn after(pool: &PgPool, after: i64, limit: u32) -> Result<Vec<RevokedEntry>> {
    let found = sqlx::query("SELECT * FROM revocations WHERE cursor > $1 ORDER BY cursor LIMIT $2")
        .bind(after)
        .bind(rows::feed_limit(limit))
        .fetch_all(pool)
        .await?;
    found.iter().map(rows::revoked).collect()
}

pub(super) async fn is_revoked(pool: &PgPool, cid: &str) -> Result<bool> {
    let found = sqlx::query("SELECT 1 FROM revocations WHERE cid = $1")
        .bind(cid)
        .fetch_optional(pool)
        .await?;
    Ok(found.is_some())
}

/// Records tokens, leaving any already recorded (by CID) as they are.
pub(super) async fn insert_tokens(conn: &mut PgConnection, tokens: &[TokenRecord]) -> Result<()> {
    for t in tokens {
        sqlx::query(
            "INSERT INTO tokens (cid, kind, issuer, audience, command, request_id, agent_did,
                 issued_at, expires_at, revokers, bytes)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (cid) DO NOTHING",
        )
        .bind(&t.cid)
        .bind(&t.kind)
        .bind(t.issuer.to_string())
        .bind(t.audience.to_string())
        .bind(&t.command)
        .bind(&t.request_id)
        .bind(t.agent_did.map(|did| did.to_string()))
        .bind(t.issued_at)
        .bind(t.expires_at)
        .bind(rows::dids_text(&t.revokers))
        .bind(&t.bytes)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub(super) async fn add_tokens(pool: &PgPool, tokens: &[TokenRecord]) -> Result<()> {
    let mut tx = pool.begin().await?;
    insert_tokens(&mut tx, tokens).await?;
    tx.commit().await?;
    Ok(())
}

/// A token with `revoked_at` from the feed.
const TOKENS: &str = "SELECT t.*, r.revoked_at AS revoked_at
     FROM tokens t LEFT JOIN revocations r ON r.cid = t.cid";

pub(super) async fn token(pool: &PgPool, cid: &str) -> Result<Option<TokenRecord>> {
    let found = sqlx::query(&format!("{TOKENS} WHERE t.cid = $1"))
        .bind(cid)
        .fetch_optional(pool)
        .await?;
    found.as_ref().map(rows::token).transpose()
}

/// Issued tokens (kinds `issued`, `auto`), newest first; with `live_at`, only those
/// neither expired then nor revoked.
pub(super) async fn list_tokens(
    pool: &PgPool,
    agent: Option<&Did>,
    live_at: Option<Timestamp>,
) -> Result<Vec<TokenRecord>> {
    let mut sql = format!("{TOKENS} WHERE t.kind IN ('issued', 'auto')");
    let mut n = 0;
    let mut param = || {
        n += 1;
        format!("${n}")
    };
    if agent.is_some() {
        sql.push_str(&format!(" AND t.agent_did = {}", param()));
    }
    if live_at.is_some() {
        let at = param();
        sql.push_str(&format!(
            " AND (t.expires_at IS NULL OR t.expires_at > {at}) AND r.cid IS NULL"
        ));
    }
    sql.push_str(" ORDER BY t.issued_at DESC, t.cid DESC");
    let mut query = sqlx::query(&sql);
    if let Some(agent) = agent {
        query = query.bind(agent.to_string());
    }
    if let Some(at) = live_at {
        query = query.bind(at);
    }
    let found = query.fetch_all(pool).await?;
    found.iter().map(rows::token).collect()
}
