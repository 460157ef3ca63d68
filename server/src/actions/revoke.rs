//! Revocation by a signed record: accepted from the owner for anything under its
//! authority, and from any other principal only for tokens whose chain it issued into.

use countersign_core::revocation::{Revocation, RevocationJson};
use serde_json::json;

use crate::audit::kind;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{AuditEvent, RevokedEntry};

/// The CID revoked and its feed position (`None`: it was already revoked).
#[derive(Debug)]
pub struct Revoked {
    pub cid: String,
    pub cursor: Option<i64>,
}

const MAX_REASON: usize = 500;

pub async fn revoke(
    state: &AppState,
    record: &RevocationJson,
    reason: &str,
) -> Result<Revoked, ApiError> {
    let r = Revocation::verify(record)
        .map_err(|e| ApiError::refused("invalid_revocation", e.to_string()))?;
    let reason = reason.trim();
    if reason.chars().count() > MAX_REASON || reason.chars().any(|c| c.is_control()) {
        return Err(ApiError::invalid(
            "reason: one line of at most 500 characters",
        ));
    }
    let cid = r.revoked.to_string();
    let authorised = r.issuer == state.owner
        || state
            .store
            .token(&cid)
            .await?
            .is_some_and(|t| t.revokers.contains(&r.issuer));
    if !authorised {
        return Err(ApiError::forbidden(format!(
            "{} is not an issuer in the chain of {cid}; only those issuers (or the owner) may revoke it",
            r.issuer
        )));
    }
    let now = state.now();
    let text = serde_json::to_string(record).map_err(ApiError::internal)?;
    let entry = RevokedEntry {
        cursor: 0,
        cid: cid.clone(),
        revoked_at: now,
        revoked_by: r.issuer.to_string(),
        reason: reason.to_owned(),
        record: Some(text),
    };
    let event = AuditEvent::new(
        now,
        kind::REVOCATION,
        r.issuer,
        &cid,
        json!({"reason": reason, "record": record}),
    );
    let cursor = state.store.revoke(&entry, &[event]).await?;
    if cursor.is_some() {
        state.announce(true);
        state.metrics.inc(
            "countersign_revocations_total",
            crate::metrics::label("source", "record"),
        );
        tracing::info!(cid = %cid, by = %r.issuer, "revoked");
    }
    Ok(Revoked { cid, cursor })
}
