//! SQLite: pairings and devices — the claim/confirm state changes and device removal.

use countersign_core::Did;
use sqlx::SqlitePool;

use super::audit::append_audit;
use super::revocations::insert_revocation;
use super::{begin, frame, rows};
use crate::store::{AuditEvent, Device, Pairing, PairingState, Result, StoreError, Timestamp};

pub(super) async fn create_pairing(pool: &SqlitePool, p: &Pairing) -> Result<()> {
    sqlx::query(
        "INSERT INTO pairings (id, code_hash, name, allow, policy, device_lifetime,
             created_at, expires_at, state, device_did, device_name, device_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&p.id)
    .bind(&p.code_hash)
    .bind(&p.name)
    .bind(rows::allow_text(&p.allow))
    .bind(rows::json_text(&p.policy))
    .bind(rows::int(p.device_lifetime)?)
    .bind(p.created_at)
    .bind(p.expires_at)
    .bind(p.state.as_str())
    .bind(p.device_did.map(|did| did.to_string()))
    .bind(&p.device_name)
    .bind(&p.device_id)
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn pairing(pool: &SqlitePool, id: &str) -> Result<Option<Pairing>> {
    let found = sqlx::query("SELECT * FROM pairings WHERE id = ?")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    found.as_ref().map(rows::pairing).transpose()
}

/// Claims the newest open, unexpired pairing with this code hash, in one statement.
pub(super) async fn claim_pairing(
    pool: &SqlitePool,
    code_hash: &[u8],
    device: &Did,
    name: &str,
    now: Timestamp,
) -> Result<Pairing> {
    let claimed = sqlx::query(
        "UPDATE pairings SET state = 'claimed', device_did = ?1, device_name = ?2
         WHERE id = (SELECT id FROM pairings
                     WHERE code_hash = ?3 AND state = 'open' AND expires_at > ?4
                     ORDER BY created_at DESC, id LIMIT 1)
           AND state = 'open' AND expires_at > ?4
         RETURNING *",
    )
    .bind(device.to_string())
    .bind(name)
    .bind(code_hash)
    .bind(now)
    .fetch_optional(pool)
    .await?;
    match claimed {
        Some(row) => rows::pairing(&row),
        None => Err(StoreError::PairingUnavailable),
    }
}

/// Claimed → confirmed and the device inserted, in one `BEGIN IMMEDIATE` transaction.
/// The device must be the one that claimed the pairing.
pub(super) async fn confirm_pairing(
    pool: &SqlitePool,
    id: &str,
    device: &Device,
    audit: &[AuditEvent],
) -> Result<()> {
    let mut tx = begin(pool).await?;
    let found = sqlx::query("SELECT * FROM pairings WHERE id = ?")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    let pairing = match found {
        Some(row) => rows::pairing(&row)?,
        None => return Err(StoreError::NotFound),
    };
    if pairing.state != PairingState::Claimed || pairing.device_did != Some(device.did) {
        return Err(StoreError::PairingUnavailable);
    }
    sqlx::query(
        "INSERT INTO devices (id, name, did, standing, created_at, removed_at)
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(&device.id)
    .bind(&device.name)
    .bind(device.did.to_string())
    .bind(frame(&device.standing)?)
    .bind(device.created_at)
    .bind(device.removed_at)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE pairings SET state = 'confirmed', device_id = ? WHERE id = ? AND state = 'claimed'",
    )
    .bind(&device.id)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    append_audit(&mut tx, audit).await?;
    tx.commit().await?;
    Ok(())
}

/// Marks the device removed and revokes its standing delegations (feed entries by
/// `owner`, reason `device removed`), in one transaction.
/// Returns the device as now stored, `removed_at` set (what the API shows).
pub(super) async fn remove_device(
    pool: &SqlitePool,
    id: &str,
    now: Timestamp,
    audit: &[AuditEvent],
) -> Result<Device> {
    let mut tx = begin(pool).await?;
    let found = sqlx::query(
        "UPDATE devices SET removed_at = ? WHERE id = ? AND removed_at IS NULL RETURNING *",
    )
    .bind(now)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let device = match found {
        Some(row) => rows::device(&row)?,
        None => return Err(StoreError::NotFound),
    };
    for cid in rows::token_cids(&device.standing) {
        let entry = rows::owner_revocation(cid, now, "device removed");
        insert_revocation(&mut tx, &entry).await?;
    }
    append_audit(&mut tx, audit).await?;
    tx.commit().await?;
    Ok(device)
}

pub(super) async fn list(pool: &SqlitePool) -> Result<Vec<Device>> {
    let found = sqlx::query("SELECT * FROM devices ORDER BY created_at, id")
        .fetch_all(pool)
        .await?;
    found.iter().map(rows::device).collect()
}

/// The active (not removed) device with this key.
pub(super) async fn by_did(pool: &SqlitePool, did: &Did) -> Result<Option<Device>> {
    let found = sqlx::query("SELECT * FROM devices WHERE did = ? AND removed_at IS NULL")
        .bind(did.to_string())
        .fetch_optional(pool)
        .await?;
    found.as_ref().map(rows::device).transpose()
}
