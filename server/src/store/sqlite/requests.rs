//! SQLite: requests — creation under the agent's limits, listing, and the conditional
//! pending → decided transitions (one `UPDATE … WHERE state = 'pending'` each).

use countersign_core::Did;
use sqlx::SqlitePool;
use sqlx::sqlite::SqliteRow;

use super::{frame, rows};
use crate::store::{
    Approval, CreateLimits, Denial, Request, RequestFilter, RequestState, Result, StoreError,
    Timestamp,
};
use rows::Columns;

/// Checks the limits and inserts, in one `BEGIN IMMEDIATE` transaction: no other writer
/// can slip a request in between the counts and the insert.
pub(super) async fn create(pool: &SqlitePool, r: &Request, limits: CreateLimits) -> Result<()> {
    let agent = r.agent_did.to_string();
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let pending = sqlx::query(
        "SELECT COUNT(*) AS n FROM requests
         WHERE agent_did = ? AND state = 'pending' AND expires_at > ?",
    )
    .bind(&agent)
    .bind(r.created_at)
    .fetch_one(&mut *tx)
    .await?
    .int("n")?;
    if pending >= i64::from(limits.max_pending) {
        return Err(StoreError::TooManyPending);
    }
    let recent =
        sqlx::query("SELECT COUNT(*) AS n FROM requests WHERE agent_did = ? AND created_at > ?")
            .bind(&agent)
            .bind(r.created_at.saturating_sub(60))
            .fetch_one(&mut *tx)
            .await?
            .int("n")?;
    if recent >= i64::from(limits.rate_per_min) {
        return Err(StoreError::RateLimited);
    }
    sqlx::query(
        "INSERT INTO requests (id, agent_name, agent_did, command, subject, args, policy,
             summary, reason, diff, lifetime, code, created_at, expires_at, state,
             decided_at, decided_by, denial_reason, evidence, chain)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&r.id)
    .bind(&r.agent_name)
    .bind(&agent)
    .bind(r.command.as_str())
    .bind(r.subject.to_string())
    .bind(r.args.as_ref().map(rows::json_text))
    .bind(rows::json_text(&r.policy))
    .bind(&r.summary)
    .bind(&r.reason)
    .bind(r.diff.as_ref().map(rows::json_text))
    .bind(rows::int(r.lifetime)?)
    .bind(&r.code)
    .bind(r.created_at)
    .bind(r.expires_at)
    .bind(r.state.as_str())
    .bind(r.decided_at)
    .bind(r.decided_by.map(|did| did.to_string()))
    .bind(&r.denial_reason)
    .bind(&r.evidence)
    .bind(frame(&r.chain)?)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn get(pool: &SqlitePool, id: &str) -> Result<Option<Request>> {
    let found = sqlx::query("SELECT * FROM requests WHERE id = ?")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    found.as_ref().map(rows::request).transpose()
}

pub(super) async fn list(pool: &SqlitePool, filter: &RequestFilter) -> Result<Vec<Request>> {
    let mut sql = String::from("SELECT * FROM requests WHERE 1 = 1");
    if filter.state.is_some() {
        sql.push_str(" AND state = ?");
    }
    if filter.agent_did.is_some() {
        sql.push_str(" AND agent_did = ?");
    }
    sql.push_str(" ORDER BY created_at DESC, seq DESC LIMIT ?");
    let mut query = sqlx::query(&sql);
    if let Some(state) = filter.state {
        query = query.bind(state.as_str());
    }
    if let Some(agent) = filter.agent_did {
        query = query.bind(agent.to_string());
    }
    let found = query
        .bind(rows::list_limit(filter.limit))
        .fetch_all(pool)
        .await?;
    found.iter().map(rows::request).collect()
}

pub(super) async fn approve(pool: &SqlitePool, id: &str, a: &Approval) -> Result<Request> {
    let updated = sqlx::query(
        "UPDATE requests SET state = 'approved', decided_at = ?1, decided_by = ?2,
             evidence = ?3, chain = ?4, issued_cid = ?5, issued_expires_at = ?6
         WHERE id = ?7 AND state = 'pending' AND expires_at > ?1
         RETURNING *",
    )
    .bind(a.at)
    .bind(a.device.to_string())
    .bind(&a.envelope)
    .bind(frame(&a.chain)?)
    .bind(&a.issued_cid)
    .bind(a.issued_expires_at)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    decided(pool, id, updated, a.at, None).await
}

pub(super) async fn deny(pool: &SqlitePool, id: &str, d: &Denial) -> Result<Request> {
    let updated = sqlx::query(
        "UPDATE requests SET state = 'denied', decided_at = ?1, decided_by = ?2,
             denial_reason = ?3, evidence = ?4
         WHERE id = ?5 AND state = 'pending' AND expires_at > ?1
         RETURNING *",
    )
    .bind(d.at)
    .bind(d.device.to_string())
    .bind(&d.reason)
    .bind(&d.statement)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    decided(pool, id, updated, d.at, None).await
}

pub(super) async fn withdraw(
    pool: &SqlitePool,
    id: &str,
    agent: &Did,
    now: Timestamp,
) -> Result<Request> {
    let agent = agent.to_string();
    let updated = sqlx::query(
        "UPDATE requests SET state = 'withdrawn', decided_at = ?1
         WHERE id = ?2 AND agent_did = ?3 AND state = 'pending' AND expires_at > ?1
         RETURNING *",
    )
    .bind(now)
    .bind(id)
    .bind(&agent)
    .fetch_optional(pool)
    .await?;
    decided(pool, id, updated, now, Some(&agent)).await
}

/// The result of a conditional transition: the updated request, or why there was none —
/// `NotFound` (also for another agent's request), or `NotPending` with the current state.
/// A request still pending at that point has expired: it is marked so.
async fn decided(
    pool: &SqlitePool,
    id: &str,
    updated: Option<SqliteRow>,
    at: Timestamp,
    agent: Option<&str>,
) -> Result<Request> {
    if let Some(row) = updated {
        return rows::request(&row);
    }
    let current = sqlx::query("SELECT state, agent_did FROM requests WHERE id = ?")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    let Some(current) = current else {
        return Err(StoreError::NotFound);
    };
    if let Some(agent) = agent {
        if current.text("agent_did")? != agent {
            return Err(StoreError::NotFound);
        }
    }
    match rows::request_state(&current)? {
        RequestState::Pending => {
            let expired = sqlx::query(
                "UPDATE requests SET state = 'expired', decided_at = ?1
                 WHERE id = ?2 AND state = 'pending' AND expires_at <= ?1",
            )
            .bind(at)
            .bind(id)
            .execute(pool)
            .await?;
            if expired.rows_affected() == 1 {
                return Err(StoreError::NotPending(RequestState::Expired));
            }
            // Decided by someone else in the meantime.
            let now = get(pool, id).await?.ok_or(StoreError::NotFound)?;
            Err(StoreError::NotPending(match now.state {
                RequestState::Pending => RequestState::Expired,
                state => state,
            }))
        }
        state => Err(StoreError::NotPending(state)),
    }
}
