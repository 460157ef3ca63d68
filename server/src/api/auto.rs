//! `/v1/auto-approvals`: the owner's standing delegations to the service for low-risk
//! commands; a request they cover is issued without a human.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use countersign_core::validate::{Limits, TokenRef, Validator};
use countersign_core::{Cid, json as dag_json};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json_, json};
use utoipa::ToSchema;

use crate::audit::kind;
use crate::auth::Owner;
use crate::error::ApiError;
use crate::input::{self, JsonBody};
use crate::state::AppState;
use crate::store::{AuditEvent, AutoApproval, StoreError};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAutoApproval {
    /// An owner → service delegation (standard base64): its command and policy bound what
    /// is approved without a human. It must expire.
    pub delegation: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AutoApprovalView {
    pub cid: String,
    pub command: String,
    #[schema(value_type = Vec<Object>)]
    pub policy: Json_,
    pub created_at: i64,
    pub expires_at: i64,
}

fn view(a: &AutoApproval) -> AutoApprovalView {
    let policy = Validator::new(Limits::default(), 0)
        .open_delegation(&TokenRef::Proof(0, Cid::dag_cbor(&a.bytes)), &a.bytes)
        .map(|d| dag_json::to_json(&d.policy.to_value()))
        .unwrap_or(Json_::Null);
    AutoApprovalView {
        cid: a.cid.clone(),
        command: a.command.clone(),
        policy,
        created_at: a.created_at,
        expires_at: a.expires_at,
    }
}

#[utoipa::path(post, path = "/v1/auto-approvals", tag = "auto-approval", request_body = NewAutoApproval,
    security(("owner" = [])),
    responses((status = 201, body = AutoApprovalView), (status = 422, body = crate::error::ErrorBody)))]
pub async fn add(
    State(state): State<AppState>,
    Owner(owner): Owner,
    JsonBody(body): JsonBody<NewAutoApproval>,
) -> Result<(StatusCode, Json<AutoApprovalView>), ApiError> {
    let bytes = input::base64_token(&body.delegation, "delegation")?;
    let cid = Cid::dag_cbor(&bytes);
    let d = Validator::new(Limits::default(), 0)
        .open_delegation(&TokenRef::Proof(0, cid.clone()), &bytes)
        .map_err(|e| ApiError::refused("invalid_delegation", e.to_string()))?;
    if d.issuer != owner || d.audience != state.service_did() || d.subject != Some(owner) {
        return Err(ApiError::refused(
            "invalid_delegation",
            "an auto-approval must be from the owner to the service, about the owner",
        ));
    }
    let now = state.now();
    let expires_at = d
        .expiration
        .and_then(|e| i64::try_from(e).ok())
        .filter(|e| *e > now)
        .ok_or_else(|| {
            ApiError::refused(
                "invalid_delegation",
                "an auto-approval must expire, in the future",
            )
        })?;
    let auto = AutoApproval {
        cid: cid.to_string(),
        command: d.command.to_string(),
        bytes: bytes.clone(),
        created_at: now,
        expires_at,
        removed_at: None,
    };
    let event = AuditEvent::new(
        now,
        kind::AUTO_APPROVAL,
        owner,
        &auto.cid,
        json!({
            "added": true, "cmd": auto.command, "policy": dag_json::to_json(&d.policy.to_value()), "expires_at": expires_at,
        }),
    );
    state.store.add_auto_approval(&auto, &[event]).await?;
    let token =
        crate::actions::token_record("auto_standing", &bytes, &d, None, None, now, vec![owner]);
    state.store.add_tokens(&[token]).await?;
    state.announce(false);
    Ok((StatusCode::CREATED, Json(view(&auto))))
}

#[utoipa::path(get, path = "/v1/auto-approvals", tag = "auto-approval", security(("owner" = [])),
    responses((status = 200, body = Vec<AutoApprovalView>)))]
pub async fn list(
    State(state): State<AppState>,
    _owner: Owner,
) -> Result<Json<Vec<AutoApprovalView>>, ApiError> {
    let autos = state.store.auto_approvals(state.now()).await?;
    Ok(Json(autos.iter().map(view).collect()))
}

#[utoipa::path(delete, path = "/v1/auto-approvals/{cid}", tag = "auto-approval", security(("owner" = [])),
    params(("cid" = String, Path)), responses((status = 204), (status = 404, body = crate::error::ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    Owner(owner): Owner,
    Path(cid): Path<String>,
) -> Result<StatusCode, ApiError> {
    let now = state.now();
    let event = AuditEvent::new(
        now,
        kind::AUTO_APPROVAL,
        owner,
        &cid,
        json!({"removed": true}),
    );
    state
        .store
        .remove_auto_approval(&cid, now, &[event])
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::not_found("auto-approval"),
            other => other.into(),
        })?;
    state.announce(false);
    Ok(StatusCode::NO_CONTENT)
}
