//! PostgreSQL: the owner's standing controls — auto-approvals, quorum rules — and the
//! partial approvals of requests that wait for a quorum.

use sqlx::PgPool;

use super::audit::append_audit;
use super::requests::mark_expired;
use super::rows;
use crate::store::{
    AuditEvent, AutoApproval, PartialApproval, QuorumRule, RequestState, Result, StoreError,
    Timestamp,
};
use rows::Columns;

pub(super) async fn add_auto(pool: &PgPool, a: &AutoApproval, audit: &[AuditEvent]) -> Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO auto_approvals (cid, command, bytes, created_at, expires_at, removed_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&a.cid)
    .bind(&a.command)
    .bind(&a.bytes)
    .bind(a.created_at)
    .bind(a.expires_at)
    .bind(a.removed_at)
    .execute(&mut *tx)
    .await?;
    append_audit(&mut tx, audit).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn autos(pool: &PgPool, now: Timestamp) -> Result<Vec<AutoApproval>> {
    let found = sqlx::query(
        "SELECT * FROM auto_approvals WHERE removed_at IS NULL AND expires_at > $1
         ORDER BY created_at, cid",
    )
    .bind(now)
    .fetch_all(pool)
    .await?;
    found.iter().map(rows::auto_approval).collect()
}

/// Marks an auto-approval removed; `NotFound` if there is none or it is removed already.
pub(super) async fn remove_auto(
    pool: &PgPool,
    cid: &str,
    now: Timestamp,
    audit: &[AuditEvent],
) -> Result<()> {
    let mut tx = pool.begin().await?;
    let done = sqlx::query(
        "UPDATE auto_approvals SET removed_at = $1 WHERE cid = $2 AND removed_at IS NULL",
    )
    .bind(now)
    .bind(cid)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    append_audit(&mut tx, audit).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn add_rule(pool: &PgPool, r: &QuorumRule, audit: &[AuditEvent]) -> Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO quorum_rules (id, command, \"when\", approvals, created_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&r.id)
    .bind(&r.command)
    .bind(rows::json_text(&r.when))
    .bind(i64::from(r.approvals))
    .bind(r.created_at)
    .execute(&mut *tx)
    .await?;
    append_audit(&mut tx, audit).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn rules(pool: &PgPool) -> Result<Vec<QuorumRule>> {
    let found = sqlx::query("SELECT * FROM quorum_rules ORDER BY created_at, id")
        .fetch_all(pool)
        .await?;
    found.iter().map(rows::quorum_rule).collect()
}

pub(super) async fn remove_rule(pool: &PgPool, id: &str, audit: &[AuditEvent]) -> Result<()> {
    let mut tx = pool.begin().await?;
    let done = sqlx::query("DELETE FROM quorum_rules WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    append_audit(&mut tx, audit).await?;
    tx.commit().await?;
    Ok(())
}

/// Records one device's approval of a request still pending and unexpired at `a.at`
/// (`NotPending` otherwise, a request found expired being marked so, as `approve` does);
/// `AlreadyExists` if that device approved it already. Returns every approval of the
/// request, oldest first.
pub(super) async fn add_partial(
    pool: &PgPool,
    a: &PartialApproval,
    audit: &[AuditEvent],
) -> Result<Vec<PartialApproval>> {
    let mut tx = pool.begin().await?;
    let current = sqlx::query("SELECT state, expires_at FROM requests WHERE id = $1 FOR UPDATE")
        .bind(&a.request_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
    match rows::request_state(&current)? {
        RequestState::Pending if current.int("expires_at")? > a.at => {}
        RequestState::Pending => {
            mark_expired(&mut tx, &a.request_id, a.at).await?;
            tx.commit().await?;
            return Err(StoreError::NotPending(RequestState::Expired));
        }
        state => return Err(StoreError::NotPending(state)),
    }
    let added = sqlx::query(
        "INSERT INTO partial_approvals (request_id, device_did, envelope, standing, at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (request_id, device_did) DO NOTHING",
    )
    .bind(&a.request_id)
    .bind(a.device.to_string())
    .bind(&a.envelope)
    .bind(&a.standing)
    .bind(a.at)
    .execute(&mut *tx)
    .await?;
    if added.rows_affected() == 0 {
        return Err(StoreError::AlreadyExists);
    }
    append_audit(&mut tx, audit).await?;
    let all = sqlx::query(
        "SELECT * FROM partial_approvals WHERE request_id = $1 ORDER BY at, device_did",
    )
    .bind(&a.request_id)
    .fetch_all(&mut *tx)
    .await?;
    let all = all
        .iter()
        .map(rows::partial_approval)
        .collect::<Result<_>>()?;
    tx.commit().await?;
    Ok(all)
}
