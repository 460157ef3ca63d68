//! SQLite: the notification outbox — push subscriptions, messages enqueued inside the
//! transactions that change requests, their fan-out into deliveries, and the worker's
//! claims (one `BEGIN IMMEDIATE` transaction: SQLite has a single writer).

use sqlx::{SqliteConnection, SqlitePool};

use super::audit::append_audit;
use super::{begin, rows};
use crate::store::outbox::{self, DELIVERY_SELECT};
use crate::store::{
    AuditEvent, Channel, ClaimSpec, Delivery, DeliveryEnd, MessageKind, PushSubscription, Result,
    Timestamp,
};
use rows::Columns;

/// Records a message of a request in the caller's transaction (once per request and kind).
pub(super) async fn enqueue(
    conn: &mut SqliteConnection,
    request_id: &str,
    kind: MessageKind,
    at: Timestamp,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO notifications (request_id, kind, created_at) VALUES (?, ?, ?)
         ON CONFLICT (request_id, kind) DO NOTHING",
    )
    .bind(request_id)
    .bind(kind.as_str())
    .bind(at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(super) async fn put_subscription(pool: &SqlitePool, s: &PushSubscription) -> Result<()> {
    sqlx::query(
        "INSERT INTO push_subscriptions (endpoint, device_id, p256dh, auth, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (endpoint) DO UPDATE SET device_id = excluded.device_id,
             p256dh = excluded.p256dh, auth = excluded.auth, updated_at = excluded.updated_at",
    )
    .bind(&s.endpoint)
    .bind(&s.device_id)
    .bind(&s.p256dh)
    .bind(&s.auth)
    .bind(s.created_at)
    .bind(s.updated_at)
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn remove_subscription(
    pool: &SqlitePool,
    device_id: &str,
    endpoint: &str,
) -> Result<bool> {
    let done = sqlx::query("DELETE FROM push_subscriptions WHERE device_id = ? AND endpoint = ?")
        .bind(device_id)
        .bind(endpoint)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn subscriptions(
    pool: &SqlitePool,
    device_id: &str,
) -> Result<Vec<PushSubscription>> {
    let found = sqlx::query(
        "SELECT * FROM push_subscriptions WHERE device_id = ? ORDER BY created_at, endpoint",
    )
    .bind(device_id)
    .fetch_all(pool)
    .await?;
    found.iter().map(outbox::subscription).collect()
}

/// Fans waiting messages out, then claims due deliveries, in one transaction.
pub(super) async fn claim(pool: &SqlitePool, spec: &ClaimSpec) -> Result<Vec<Delivery>> {
    let mut tx = begin(pool).await?;
    fan_out(&mut tx, spec).await?;
    // A delivery waits while an earlier one of the same request to the same target is
    // queued: a `closed` message never overtakes its `pending` one.
    let claimed = sqlx::query(
        "UPDATE deliveries SET attempts = attempts + 1, locked_until = ?1 + ?2
         WHERE id IN (
             SELECT e.id FROM deliveries e
             WHERE e.state = 'queued' AND e.next_at <= ?1 AND e.locked_until <= ?1
               AND NOT EXISTS (
                   SELECT 1 FROM deliveries f
                   WHERE f.request_id = e.request_id AND f.channel = e.channel
                     AND f.target = e.target AND f.state = 'queued' AND f.id < e.id)
             ORDER BY e.next_at, e.id LIMIT ?3)
         RETURNING id",
    )
    .bind(spec.now)
    .bind(spec.lease)
    .bind(i64::from(spec.limit))
    .fetch_all(&mut *tx)
    .await?;
    let ids = claimed
        .iter()
        .map(|row| row.int("id"))
        .collect::<Result<Vec<_>>>()?;
    if ids.is_empty() {
        tx.commit().await?;
        return Ok(Vec::new());
    }
    let found = sqlx::query(&format!(
        "{DELIVERY_SELECT} WHERE d.id IN (SELECT value FROM json_each(?)) ORDER BY d.next_at, d.id"
    ))
    .bind(serde_json::Value::from(ids).to_string())
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    found.iter().map(outbox::delivery).collect()
}

/// Creates the deliveries of waiting messages, oldest first, at most `spec.limit`.
///
/// A `pending` message goes to every push subscription of an active device and to every
/// configured channel. A `closed` message goes to the targets its `pending` message was
/// attempted on (ntfy excepted: it cannot take a message back); `pending` deliveries not
/// yet attempted are skipped instead.
///
/// One round is enough: no other writer can add a message while this transaction runs
/// (SQLite has one writer), messages are taken in order (a `pending` before its
/// `closed`), and a message added afterwards wakes the worker again.
async fn fan_out(conn: &mut SqliteConnection, spec: &ClaimSpec) -> Result<()> {
    let limit = i64::from(spec.limit);
    let waiting = sqlx::query(
        "SELECT seq, request_id, kind FROM notifications
         WHERE fanned_out_at IS NULL ORDER BY seq LIMIT ?",
    )
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    for row in &waiting {
        let seq = row.int("seq")?;
        let request = row.text("request_id")?;
        match MessageKind::parse(&row.text("kind")?) {
            Some(MessageKind::Pending) => {
                sqlx::query(
                    "INSERT INTO deliveries (notification, request_id, kind, channel, target, state, next_at)
                     SELECT ?1, ?2, 'pending', 'push', s.endpoint, 'queued', ?3
                     FROM push_subscriptions s JOIN devices v ON v.id = s.device_id
                     WHERE v.removed_at IS NULL
                     ON CONFLICT DO NOTHING",
                )
                .bind(seq)
                .bind(&request)
                .bind(spec.now)
                .execute(&mut *conn)
                .await?;
                for channel in spec.channels.iter().filter(|c| **c != Channel::Push) {
                    sqlx::query(
                        "INSERT INTO deliveries (notification, request_id, kind, channel, target, state, next_at)
                         VALUES (?, ?, 'pending', ?, '', 'queued', ?) ON CONFLICT DO NOTHING",
                    )
                    .bind(seq)
                    .bind(&request)
                    .bind(channel.as_str())
                    .bind(spec.now)
                    .execute(&mut *conn)
                    .await?;
                }
            }
            Some(MessageKind::Closed) => {
                sqlx::query(
                    "UPDATE deliveries SET state = 'skipped', done_at = ?1,
                         last_error = 'the request closed before it was sent'
                     WHERE request_id = ?2 AND kind = 'pending' AND state = 'queued'
                       AND attempts = 0",
                )
                .bind(spec.now)
                .bind(&request)
                .execute(&mut *conn)
                .await?;
                sqlx::query(
                    "INSERT INTO deliveries (notification, request_id, kind, channel, target, state, next_at)
                     SELECT ?1, request_id, 'closed', channel, target, 'queued', ?2
                     FROM deliveries
                     WHERE request_id = ?3 AND kind = 'pending' AND attempts > 0
                       AND channel <> 'ntfy'
                     ORDER BY id
                     ON CONFLICT DO NOTHING",
                )
                .bind(seq)
                .bind(spec.now)
                .bind(&request)
                .execute(&mut *conn)
                .await?;
            }
            None => return Err(rows::corrupt("notification kind")),
        }
        sqlx::query("UPDATE notifications SET fanned_out_at = ? WHERE seq = ?")
            .bind(spec.now)
            .bind(seq)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Puts a claimed delivery back in the queue until `next_at`; `false` if the claim was lost.
pub(super) async fn retry(
    pool: &SqlitePool,
    d: &Delivery,
    next_at: Timestamp,
    error: &str,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE deliveries SET next_at = ?, locked_until = 0, last_error = ?
         WHERE id = ? AND attempts = ? AND state = 'queued'",
    )
    .bind(next_at)
    .bind(error)
    .bind(d.id)
    .bind(i64::from(d.attempts))
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends a claimed delivery and appends its audit events in one transaction (removing the
/// subscription when it is gone); `false`, with nothing changed, if the claim was lost.
pub(super) async fn finish(
    pool: &SqlitePool,
    d: &Delivery,
    end: &DeliveryEnd,
    now: Timestamp,
    audit: &[AuditEvent],
) -> Result<bool> {
    let mut tx = begin(pool).await?;
    let done = sqlx::query(
        "UPDATE deliveries SET state = ?, done_at = ?, last_error = ?, locked_until = 0
         WHERE id = ? AND attempts = ? AND state = 'queued'",
    )
    .bind(end.state().as_str())
    .bind(now)
    .bind(end.error())
    .bind(d.id)
    .bind(i64::from(d.attempts))
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    if matches!(end, DeliveryEnd::Gone(_)) {
        sqlx::query("DELETE FROM push_subscriptions WHERE endpoint = ?")
            .bind(&d.target)
            .execute(&mut *tx)
            .await?;
    }
    append_audit(&mut tx, audit).await?;
    tx.commit().await?;
    Ok(true)
}

pub(super) async fn deliveries(pool: &SqlitePool, request_id: &str) -> Result<Vec<Delivery>> {
    let found = sqlx::query(&format!(
        "{DELIVERY_SELECT} WHERE d.request_id = ? ORDER BY d.id"
    ))
    .bind(request_id)
    .fetch_all(pool)
    .await?;
    found.iter().map(outbox::delivery).collect()
}
