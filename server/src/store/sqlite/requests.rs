//! SQLite: requests — creation under the agent's limits, listing and lookups, expiry, and
//! the conditional pending → decided transitions (one `UPDATE … WHERE state = 'pending'`
//! each), every write with its audit events in one `BEGIN IMMEDIATE` transaction.

use countersign_core::Did;
use sqlx::sqlite::SqliteRow;
use sqlx::{Sqlite, SqliteConnection, SqlitePool, Transaction};

use super::audit::append_audit;
use super::notify::enqueue;
use super::revocations::insert_tokens;
use super::{begin, frame, rows};
use crate::store::{
    Approval, AuditEvent, CreateLimits, Denial, MessageKind, Request, RequestFilter, RequestState,
    Result, StoreError, Timestamp,
};
use rows::Columns;

/// Checks the limits and inserts, in one `BEGIN IMMEDIATE` transaction: no other writer
/// can slip a request in between the counts and the insert.
pub(super) async fn create(
    pool: &SqlitePool,
    r: &Request,
    limits: CreateLimits,
    audit: &[AuditEvent],
) -> Result<()> {
    let agent = r.agent_did.to_string();
    let mut tx = begin(pool).await?;
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
    if r.state == RequestState::Pending {
        enqueue(&mut tx, &r.id, MessageKind::Pending, r.created_at).await?;
    }
    append_audit(&mut tx, audit).await?;
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

/// Pending → approved, recording the chain's tokens with it.
pub(super) async fn approve(
    pool: &SqlitePool,
    id: &str,
    a: &Approval,
    audit: &[AuditEvent],
) -> Result<Request> {
    let mut tx = begin(pool).await?;
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
    .fetch_optional(&mut *tx)
    .await?;
    let request = match decided(&mut tx, id, updated, a.at, None).await {
        Ok(request) => request,
        Err(e) => return settle(tx, e).await,
    };
    insert_tokens(&mut tx, &a.tokens).await?;
    enqueue(&mut tx, id, MessageKind::Closed, a.at).await?;
    append_audit(&mut tx, audit).await?;
    tx.commit().await?;
    Ok(request)
}

pub(super) async fn deny(
    pool: &SqlitePool,
    id: &str,
    d: &Denial,
    audit: &[AuditEvent],
) -> Result<Request> {
    let mut tx = begin(pool).await?;
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
    .fetch_optional(&mut *tx)
    .await?;
    let request = match decided(&mut tx, id, updated, d.at, None).await {
        Ok(request) => request,
        Err(e) => return settle(tx, e).await,
    };
    enqueue(&mut tx, id, MessageKind::Closed, d.at).await?;
    append_audit(&mut tx, audit).await?;
    tx.commit().await?;
    Ok(request)
}

pub(super) async fn withdraw(
    pool: &SqlitePool,
    id: &str,
    agent: &Did,
    now: Timestamp,
    audit: &[AuditEvent],
) -> Result<Request> {
    let agent = agent.to_string();
    let mut tx = begin(pool).await?;
    let updated = sqlx::query(
        "UPDATE requests SET state = 'withdrawn', decided_at = ?1
         WHERE id = ?2 AND agent_did = ?3 AND state = 'pending' AND expires_at > ?1
         RETURNING *",
    )
    .bind(now)
    .bind(id)
    .bind(&agent)
    .fetch_optional(&mut *tx)
    .await?;
    let request = match decided(&mut tx, id, updated, now, Some(&agent)).await {
        Ok(request) => request,
        Err(e) => return settle(tx, e).await,
    };
    enqueue(&mut tx, id, MessageKind::Closed, now).await?;
    append_audit(&mut tx, audit).await?;
    tx.commit().await?;
    Ok(request)
}

/// Ends a transition that did not happen: commits what it found out (a request whose
/// time was up is marked expired) and returns why; a database error rolls back.
async fn settle<T>(tx: Transaction<'static, Sqlite>, e: StoreError) -> Result<T> {
    if matches!(e, StoreError::NotPending(_) | StoreError::NotFound) {
        tx.commit().await?;
    }
    Err(e)
}

/// The result of a conditional transition: the updated request, or why there was none —
/// `NotFound` (also for another agent's request), or `NotPending` with the current state.
/// A request still pending at that point has expired: it is marked so.
async fn decided(
    conn: &mut SqliteConnection,
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
        .fetch_optional(&mut *conn)
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
        // The write lock is held: nobody else decided it since the update.
        RequestState::Pending => {
            mark_expired(conn, id, at).await?;
            Err(StoreError::NotPending(RequestState::Expired))
        }
        state => Err(StoreError::NotPending(state)),
    }
}

/// Marks a pending request whose time is up at `at` as expired, with its
/// `request.expired` audit entry. `false` if it was not pending and due.
pub(super) async fn mark_expired(
    conn: &mut SqliteConnection,
    id: &str,
    at: Timestamp,
) -> Result<bool> {
    let expired = sqlx::query(
        "UPDATE requests SET state = 'expired', decided_at = ?1
         WHERE id = ?2 AND state = 'pending' AND expires_at <= ?1",
    )
    .bind(at)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    if expired.rows_affected() == 0 {
        return Ok(false);
    }
    enqueue(conn, id, MessageKind::Closed, at).await?;
    append_audit(conn, &[rows::expired_event(id, at)]).await?;
    Ok(true)
}

/// Marks every pending request whose time is up as expired, each with its
/// `request.expired` audit entry; returns their ids, in order of expiry.
pub(super) async fn expire_due(pool: &SqlitePool, now: Timestamp) -> Result<Vec<String>> {
    let mut tx = begin(pool).await?;
    let due = sqlx::query(
        "UPDATE requests SET state = 'expired', decided_at = ?1
         WHERE state = 'pending' AND expires_at <= ?1 RETURNING id, expires_at",
    )
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    let mut due = due
        .iter()
        .map(|row| Ok((row.int("expires_at")?, row.text("id")?)))
        .collect::<Result<Vec<_>>>()?;
    due.sort();
    let events: Vec<_> = due
        .iter()
        .map(|(_, id)| rows::expired_event(id, now))
        .collect();
    for (_, id) in &due {
        enqueue(&mut tx, id, MessageKind::Closed, now).await?;
    }
    append_audit(&mut tx, &events).await?;
    tx.commit().await?;
    Ok(due.into_iter().map(|(_, id)| id).collect())
}

pub(super) async fn count_pending(pool: &SqlitePool, now: Timestamp) -> Result<u64> {
    let n = sqlx::query(
        "SELECT COUNT(*) AS n FROM requests WHERE state = 'pending' AND expires_at > ?",
    )
    .bind(now)
    .fetch_one(pool)
    .await?
    .int("n")?;
    Ok(n.unsigned_abs())
}

pub(super) async fn count_denials(pool: &SqlitePool, agent: &Did, since: Timestamp) -> Result<u64> {
    let n = sqlx::query(
        "SELECT COUNT(*) AS n FROM requests
         WHERE agent_did = ? AND state = 'denied' AND decided_at >= ?",
    )
    .bind(agent.to_string())
    .bind(since)
    .fetch_one(pool)
    .await?
    .int("n")?;
    Ok(n.unsigned_abs())
}

/// The newest pending, unexpired request of the same agent with the same command, args,
/// policy and summary (JSON compared as stored text).
pub(super) async fn find_identical(
    pool: &SqlitePool,
    r: &Request,
    now: Timestamp,
) -> Result<Option<Request>> {
    let found = sqlx::query(
        "SELECT * FROM requests
         WHERE agent_did = ? AND command = ? AND args IS ? AND policy = ? AND summary = ?
           AND state = 'pending' AND expires_at > ?
         ORDER BY created_at DESC, seq DESC LIMIT 1",
    )
    .bind(r.agent_did.to_string())
    .bind(r.command.as_str())
    .bind(r.args.as_ref().map(rows::json_text))
    .bind(rows::json_text(&r.policy))
    .bind(&r.summary)
    .bind(now)
    .fetch_optional(pool)
    .await?;
    found.as_ref().map(rows::request).transpose()
}
