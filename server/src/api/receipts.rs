//! `POST /v1/receipts`: gateways report what they did with each valid invocation.
//!
//! The body holds one EdDSA JWT signed by a configured gateway (`iss`), for this service
//! (`aud`). Its claims carry one receipt (`invocation`, `route`, `outcome`, `status`,
//! `at`, and for a refusal `error`) or a batch of them under `receipts`. Each receipt is
//! recorded once, however often it is delivered and under whichever token: its identity
//! is the gateway, the invocation and what happened to it (the attempt, or the kind of
//! refusal), consumed in the same transaction that appends it to the audit log.

use std::str::FromStr;

use axum::extract::State;
use axum::http::StatusCode;
use countersign_core::Cid;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::audit::kind;
use crate::auth::jwt;
use crate::error::ApiError;
use crate::input::JsonBody;
use crate::state::AppState;
use crate::store::AuditEvent;

/// Most receipts one token may carry.
pub const MAX_RECEIPTS: usize = 256;
/// How long a receipt's identity is remembered (a delivery later than this, after
/// weeks of outage, would be recorded again).
const REMEMBERED: i64 = 7 * 86_400;
/// The outcomes a gateway reports.
const OUTCOMES: [&str; 4] = ["ok", "upstream_error", "unknown", "refused"];
/// The kind of the receipt of an upstream call (a refusal's kind is its `error`).
const ATTEMPT: &str = "attempt";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptBody {
    /// An EdDSA JWT signed by a configured gateway: `{iss, aud: service, iat, exp, jti}`
    /// and either one receipt (`invocation, route, outcome, status, at, error?`) or
    /// `receipts`: an array of 1 to 256 of them.
    pub receipt: String,
}

/// One receipt, as a gateway states it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
struct Receipt {
    invocation: String,
    route: String,
    outcome: String,
    #[serde(default)]
    status: u16,
    at: i64,
    /// The refusal's kind, when the gateway refused after the chain validated.
    #[serde(default)]
    error: Option<String>,
}

impl Receipt {
    /// What identifies this receipt among all of one gateway's.
    fn identity(&self) -> String {
        let what = self.error.as_deref().unwrap_or(ATTEMPT);
        format!("receipt:{}:{what}", self.invocation)
    }

    fn check(&self) -> Result<(), String> {
        Cid::from_str(&self.invocation)
            .map_err(|e| format!("invocation {:?} is not a CID: {e}", self.invocation))?;
        if !OUTCOMES.contains(&self.outcome.as_str()) {
            return Err(format!(
                "outcome {:?} is not one of {}",
                self.outcome,
                OUTCOMES.join(", ")
            ));
        }
        if self.route.len() > 256 || self.error.as_ref().is_some_and(|e| e.len() > 64) {
            return Err("route or error too long".to_owned());
        }
        Ok(())
    }
}

/// The receipts a token carries in its claims beyond the standard ones: the batch under
/// `receipts`, or the one receipt those claims state themselves.
fn receipts_of(mut extra: jwt::Extra) -> Result<Vec<Receipt>, String> {
    let receipts: Vec<Receipt> = match extra.remove("receipts") {
        Some(batch) => serde_json::from_value(batch)
            .map_err(|e| format!("receipts: each needs invocation, route, outcome, at: {e}"))?,
        None => vec![
            serde_json::from_value(serde_json::Value::Object(extra))
                .map_err(|_| "receipt: missing invocation, route, outcome or at".to_owned())?,
        ],
    };
    if receipts.is_empty() || receipts.len() > MAX_RECEIPTS {
        return Err(format!(
            "a receipt token carries 1 to {MAX_RECEIPTS} receipts, not {}",
            receipts.len()
        ));
    }
    for r in &receipts {
        r.check()?;
    }
    Ok(receipts)
}

#[utoipa::path(post, path = "/v1/receipts", tag = "audit", request_body = ReceiptBody,
    responses((status = 202), (status = 400, body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
pub async fn receipt(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<ReceiptBody>,
) -> Result<StatusCode, ApiError> {
    let now = state.now();
    let rules = jwt::TimeRules {
        now,
        max_lifetime: i64::try_from(state.config.auth.max_token_lifetime.0).unwrap_or(300),
        // Receipts may be delivered late, after the gateway or the service was down.
        skew: REMEMBERED,
    };
    // A batch is longer than a bearer token; the body limit bounds it.
    let max_len = state.config.limits.max_body_bytes;
    let (verified, extra) =
        jwt::verify_statement(&body.receipt, &state.service_did(), rules, max_len)
            .map_err(|e| ApiError::unauthorized(e.to_string()))?;
    let gateway = verified.did.to_string();
    if !state.config.gateways.contains(&gateway) {
        return Err(ApiError::forbidden(format!(
            "{gateway} is not a configured gateway"
        )));
    }
    let receipts = receipts_of(extra).map_err(ApiError::invalid)?;
    let jti = &verified.claims.jti;
    let items: Vec<(String, AuditEvent)> = receipts
        .iter()
        .enumerate()
        .map(|(index, r)| {
            let event = AuditEvent::new(
                now,
                kind::RECEIPT,
                &gateway,
                &r.invocation,
                json!({
                    "route": r.route, "outcome": r.outcome, "status": r.status, "at": r.at,
                    "error": r.error, "jti": jti, "index": index,
                }),
            );
            (r.identity(), event)
        })
        .collect();
    // The signed token goes with the first entry it adds; the others name it by `jti`.
    // As long as the token itself would verify (its expiry plus the skew allowed), and at
    // least a week from now.
    let keep_until = verified
        .claims
        .exp
        .saturating_add(REMEMBERED)
        .max(now + REMEMBERED);
    let fresh = state
        .store
        .append_audit_once(
            &verified.did,
            keep_until,
            &items,
            ("receipt", &body.receipt),
        )
        .await?;
    if fresh.contains(&true) {
        state.announce(false);
    }
    for (r, _) in receipts.iter().zip(&fresh).filter(|(_, new)| **new) {
        state.metrics.inc(
            "countersign_receipts_total",
            crate::metrics::label("outcome", &r.outcome),
        );
    }
    Ok(StatusCode::ACCEPTED)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The receipts of a token whose claims beyond the standard ones are `extra`.
    fn of(extra: serde_json::Value) -> Result<Vec<Receipt>, String> {
        receipts_of(extra.as_object().unwrap().clone())
    }

    fn one(invocation: &str) -> serde_json::Value {
        json!({"invocation": invocation, "route": "/email/send", "outcome": "ok",
               "status": 250, "at": 1})
    }

    #[test]
    fn a_token_carries_one_receipt_or_a_batch() {
        let cid = Cid::dag_cbor(b"inv").to_string();
        let single = of(one(&cid)).unwrap();
        assert_eq!(single.len(), 1);
        assert_eq!(single[0].identity(), format!("receipt:{cid}:attempt"));
        let mut refused = one(&cid);
        refused["outcome"] = json!("refused");
        refused["error"] = json!("Replayed");
        let batch = of(json!({"receipts": [one(&cid), refused]})).unwrap();
        assert_eq!(batch.len(), 2);
        assert_eq!(batch[1].identity(), format!("receipt:{cid}:Replayed"));
    }

    #[test]
    fn malformed_receipts_are_refused_with_a_reason() {
        let cid = Cid::dag_cbor(b"inv").to_string();
        let err = of(json!({"receipts": []})).unwrap_err();
        assert!(err.contains("1 to 256"), "{err}");
        let many: Vec<_> = (0..=MAX_RECEIPTS).map(|_| one(&cid)).collect();
        assert!(of(json!({ "receipts": many })).is_err());
        let err = of(one("not-a-cid")).unwrap_err();
        assert!(err.contains("not a CID"), "{err}");
        let mut odd = one(&cid);
        odd["outcome"] = json!("maybe");
        assert!(of(odd).unwrap_err().contains("outcome"));
        assert!(of(json!({"note": "x"})).is_err());
    }
}
