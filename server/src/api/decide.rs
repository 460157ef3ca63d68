//! Decisions: a device approves with a signed delegation or denies with a signed
//! statement; the agent may withdraw. Exactly one decision wins a race.

use std::collections::HashSet;

use axum::Json;
use axum::extract::{Path, State};
use countersign_core::Cid;
use serde::Deserialize;
use utoipa::ToSchema;

use super::requests::current;
use super::views::{Audience, RequestView};
use crate::approval::{Parties, check_approval, issue_for_agent};
use crate::auth::{AgentCaller, DeviceCaller, jwt};
use crate::error::ApiError;
use crate::input::JsonBody;
use crate::state::AppState;
use crate::store::{Approval, Denial, Request, RequestState};
use crate::{ids, input};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveBody {
    /// The device → service delegation, signed on the device (standard base64 of the
    /// envelope).
    pub delegation: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DenyBody {
    pub reason: String,
    /// An EdDSA JWT signed by the device: `{iss: device, aud: service, sub: request id,
    /// reason, iat, exp, jti}`.
    pub statement: String,
}

fn pending(request: &Request, now: i64) -> Result<(), ApiError> {
    if request.state != RequestState::Pending {
        return Err(crate::store::StoreError::NotPending(request.state).into());
    }
    if now >= request.expires_at {
        return Err(crate::store::StoreError::NotPending(RequestState::Expired).into());
    }
    Ok(())
}

#[utoipa::path(post, path = "/v1/requests/{id}/approve", tag = "decisions", request_body = ApproveBody,
    params(("id" = String, Path)), security(("device" = [])),
    responses((status = 200, body = RequestView), (status = 409, body = crate::error::ErrorBody),
              (status = 422, body = crate::error::ErrorBody)))]
pub async fn approve(
    State(state): State<AppState>,
    DeviceCaller(device): DeviceCaller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ApproveBody>,
) -> Result<Json<RequestView>, ApiError> {
    let request = current(&state, &id).await?;
    let now = state.now();
    pending(&request, now)?;
    if request.agent_did == device.did {
        return Err(ApiError::forbidden(
            "a requester cannot approve its own request",
        ));
    }
    let envelope = input::base64_token(&body.delegation, "delegation")?;
    let mut revoked = HashSet::new();
    for bytes in &device.standing {
        let cid = Cid::dag_cbor(bytes);
        if state.store.is_revoked(&cid.to_string()).await? {
            revoked.insert(cid);
        }
    }
    let parties = Parties {
        device: &device,
        service: state.service_did(),
        owner: state.owner,
        now: u64::try_from(now).unwrap_or(0),
        skew: state.config.auth.clock_skew.0,
    };
    let checked = check_approval(&request, &envelope, parties, |cid| revoked.contains(cid))
        .map_err(|refusal| ApiError::refused(refusal.code(), refusal.to_string()))?;
    let (issued, chain) = issue_for_agent(
        &state.service,
        request.agent_did,
        &checked,
        &envelope,
        &mut ids::nonces(),
    );
    let approval = Approval {
        device: device.did,
        at: now,
        envelope,
        chain,
        issued_cid: issued.cid.to_string(),
        issued_expires_at: i64::try_from(checked.expires_at).unwrap_or(i64::MAX),
    };
    let decided = state.store.approve(&id, &approval).await?;
    state.waiters.wake(&id);
    tracing::info!(request = %id, device = %device.name, token = %issued.cid, "approved and issued");
    Ok(Json(RequestView::of(&decided, Audience::Approver)))
}

#[utoipa::path(post, path = "/v1/requests/{id}/deny", tag = "decisions", request_body = DenyBody,
    params(("id" = String, Path)), security(("device" = [])),
    responses((status = 200, body = RequestView), (status = 409, body = crate::error::ErrorBody),
              (status = 422, body = crate::error::ErrorBody)))]
pub async fn deny(
    State(state): State<AppState>,
    DeviceCaller(device): DeviceCaller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<DenyBody>,
) -> Result<Json<RequestView>, ApiError> {
    let request = current(&state, &id).await?;
    let now = state.now();
    pending(&request, now)?;
    let reason = body.reason.trim();
    if reason.is_empty()
        || reason.chars().count() > 500
        || reason.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(ApiError::invalid("reason: 1 to 500 characters"));
    }
    let rules = jwt::TimeRules {
        now,
        max_lifetime: i64::try_from(state.config.auth.max_token_lifetime.0).unwrap_or(300),
        skew: i64::try_from(state.config.auth.clock_skew.0).unwrap_or(30),
    };
    let statement = jwt::verify(&body.statement, &state.service_did(), rules)
        .map_err(|e| ApiError::refused("invalid_statement", e.to_string()))?;
    let bound = statement.did == device.did
        && statement.claims.sub.as_deref() == Some(id.as_str())
        && statement.claims.reason.as_deref().map(str::trim) == Some(reason);
    if !bound {
        return Err(ApiError::refused(
            "invalid_statement",
            "the denial statement must be signed by this device, name this request and carry the same reason",
        ));
    }
    let denial = Denial {
        device: device.did,
        at: now,
        reason: reason.to_owned(),
        statement: body.statement.into_bytes(),
    };
    let decided = state.store.deny(&id, &denial).await?;
    state.waiters.wake(&id);
    tracing::info!(request = %id, device = %device.name, "denied");
    Ok(Json(RequestView::of(&decided, Audience::Approver)))
}

#[utoipa::path(post, path = "/v1/requests/{id}/withdraw", tag = "decisions",
    params(("id" = String, Path)), security(("agent" = [])),
    responses((status = 200, body = RequestView), (status = 409, body = crate::error::ErrorBody)))]
pub async fn withdraw(
    State(state): State<AppState>,
    AgentCaller(agent): AgentCaller,
    Path(id): Path<String>,
) -> Result<Json<RequestView>, ApiError> {
    let request = current(&state, &id).await?;
    if request.agent_did != agent.did {
        return Err(ApiError::not_found("request"));
    }
    let decided = state.store.withdraw(&id, &agent.did, state.now()).await?;
    state.waiters.wake(&id);
    Ok(Json(RequestView::of(&decided, Audience::Requester)))
}
