//! SQLite: agents — registration, suspension, and the kill switch (rows of `kills`: an
//! agent's DID, or `all`).

use countersign_core::Did;
use sqlx::SqlitePool;

use super::audit::append_audit;
use super::notify::enqueue;
use super::revocations::insert_revocation;
use super::{begin, rows};
use crate::store::{
    Agent, AuditEvent, KillReport, KillTarget, MessageKind, Result, StoreError, Timestamp,
};
use rows::Columns;

/// The `kills` target that stands for every agent.
const ALL: &str = "all";

pub(super) async fn add(pool: &SqlitePool, agent: &Agent, audit: &[AuditEvent]) -> Result<()> {
    let mut tx = begin(pool).await?;
    sqlx::query(
        "INSERT INTO agents (name, did, allow, max_pending, rate_per_min, created_at)
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(&agent.name)
    .bind(agent.did.to_string())
    .bind(rows::allow_text(&agent.allow))
    .bind(i64::from(agent.max_pending))
    .bind(i64::from(agent.rate_per_min))
    .bind(agent.created_at)
    .execute(&mut *tx)
    .await?;
    append_audit(&mut tx, audit).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn list(pool: &SqlitePool) -> Result<Vec<Agent>> {
    let found = sqlx::query("SELECT * FROM agents ORDER BY name")
        .fetch_all(pool)
        .await?;
    found.iter().map(rows::agent).collect()
}

pub(super) async fn by_did(pool: &SqlitePool, did: &Did) -> Result<Option<Agent>> {
    let found = sqlx::query("SELECT * FROM agents WHERE did = ?")
        .bind(did.to_string())
        .fetch_optional(pool)
        .await?;
    found.as_ref().map(rows::agent).transpose()
}

pub(super) async fn remove(pool: &SqlitePool, name: &str, audit: &[AuditEvent]) -> Result<()> {
    let mut tx = begin(pool).await?;
    let done = sqlx::query("DELETE FROM agents WHERE name = ?")
        .bind(name)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    append_audit(&mut tx, audit).await?;
    tx.commit().await?;
    Ok(())
}

/// Suspends the agent (keeping the time of a suspension already in force).
pub(super) async fn suspend(
    pool: &SqlitePool,
    agent: &Did,
    at: Timestamp,
    audit: &[AuditEvent],
) -> Result<()> {
    let mut tx = begin(pool).await?;
    let done =
        sqlx::query("UPDATE agents SET suspended_at = COALESCE(suspended_at, ?) WHERE did = ?")
            .bind(at)
            .bind(agent.to_string())
            .execute(&mut *tx)
            .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    append_audit(&mut tx, audit).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn resume(pool: &SqlitePool, name: &str, audit: &[AuditEvent]) -> Result<()> {
    let mut tx = begin(pool).await?;
    let done = sqlx::query("UPDATE agents SET suspended_at = NULL WHERE name = ?")
        .bind(name)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    append_audit(&mut tx, audit).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn is_suspended(pool: &SqlitePool, agent: &Did) -> Result<bool> {
    let found = sqlx::query("SELECT 1 FROM agents WHERE did = ? AND suspended_at IS NOT NULL")
        .bind(agent.to_string())
        .fetch_optional(pool)
        .await?;
    Ok(found.is_some())
}

/// Cancels the target's pending (unexpired) requests, revokes its live issued tokens and
/// records the kill, in one transaction.
pub(super) async fn kill(
    pool: &SqlitePool,
    target: KillTarget,
    now: Timestamp,
    audit: &[AuditEvent],
) -> Result<KillReport> {
    let agent = match target {
        KillTarget::Agent(did) => Some(did.to_string()),
        KillTarget::All => None,
    };
    let mut tx = begin(pool).await?;
    let cancelled = sqlx::query(
        "UPDATE requests SET state = 'cancelled', decided_at = ?1
         WHERE state = 'pending' AND expires_at > ?1 AND (?2 IS NULL OR agent_did = ?2)
         RETURNING id",
    )
    .bind(now)
    .bind(&agent)
    .fetch_all(&mut *tx)
    .await?;
    for row in &cancelled {
        enqueue(&mut tx, &row.text("id")?, MessageKind::Closed, now).await?;
    }
    let live = sqlx::query(
        "SELECT t.cid FROM tokens t
         WHERE t.kind IN ('issued', 'auto') AND (?2 IS NULL OR t.agent_did = ?2)
           AND (t.expires_at IS NULL OR t.expires_at > ?1)
           AND NOT EXISTS (SELECT 1 FROM revocations r WHERE r.cid = t.cid)
         ORDER BY t.issued_at, t.cid",
    )
    .bind(now)
    .bind(&agent)
    .fetch_all(&mut *tx)
    .await?;
    let mut revoked = 0;
    for row in &live {
        let entry = rows::owner_revocation(row.text("cid")?, now, "kill switch");
        if insert_revocation(&mut tx, &entry).await?.is_some() {
            revoked += 1;
        }
    }
    sqlx::query(
        "INSERT INTO kills (target, killed_at) VALUES (?, ?) ON CONFLICT (target) DO NOTHING",
    )
    .bind(agent.as_deref().unwrap_or(ALL))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    append_audit(&mut tx, audit).await?;
    tx.commit().await?;
    Ok(KillReport {
        tokens_revoked: revoked,
        requests_cancelled: u64::try_from(cancelled.len()).unwrap_or(u64::MAX),
    })
}

/// Lifts an agent's kill switch, or (`All`) every kill switch in force.
pub(super) async fn lift_kill(
    pool: &SqlitePool,
    target: KillTarget,
    audit: &[AuditEvent],
) -> Result<()> {
    let mut tx = begin(pool).await?;
    match target {
        KillTarget::Agent(did) => {
            sqlx::query("DELETE FROM kills WHERE target = ?")
                .bind(did.to_string())
                .execute(&mut *tx)
                .await?
        }
        KillTarget::All => sqlx::query("DELETE FROM kills").execute(&mut *tx).await?,
    };
    append_audit(&mut tx, audit).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn is_killed(pool: &SqlitePool, agent: &Did) -> Result<bool> {
    let found = sqlx::query("SELECT 1 FROM kills WHERE target IN (?, ?) LIMIT 1")
        .bind(ALL)
        .bind(agent.to_string())
        .fetch_optional(pool)
        .await?;
    Ok(found.is_some())
}
