//! Decisions: a device approves with a signed delegation or denies with a signed
//! statement; the agent may withdraw. Exactly one decision wins a race.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::requests::current;
use super::views::{Audience, RequestView};
use crate::actions::approve::{Outcome, approve as approve_request, ensure_pending};
use crate::audit::kind;
use crate::auth::{AgentCaller, DeviceCaller, jwt};
use crate::error::ApiError;
use crate::input::{self, JsonBody};
use crate::metrics::label;
use crate::state::AppState;
use crate::store::{AuditEvent, Denial, Request};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveBody {
    /// The device → service delegation, signed on the device (standard base64 of the
    /// envelope). With number matching, its `meta` carries `countersign/match`.
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

#[utoipa::path(post, path = "/v1/requests/{id}/approve", tag = "decisions", request_body = ApproveBody,
    params(("id" = String, Path)), security(("device" = [])),
    responses((status = 200, body = RequestView, description = "Approved and issued"),
              (status = 202, body = RequestView, description = "Counted towards a quorum; still pending"),
              (status = 409, body = crate::error::ErrorBody),
              (status = 422, body = crate::error::ErrorBody)))]
pub async fn approve(
    State(state): State<AppState>,
    DeviceCaller(device): DeviceCaller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ApproveBody>,
) -> Result<(StatusCode, Json<RequestView>), ApiError> {
    let request = current(&state, &id).await?;
    ensure_pending(&request, state.now())?;
    let envelope = input::base64_token(&body.delegation, "delegation")?;
    let config = &state.config.requests;
    Ok(
        match approve_request(&state, &device, &request, envelope).await? {
            Outcome::Issued(decided) => (
                StatusCode::OK,
                Json(RequestView::of(&decided, Audience::Approver, config)),
            ),
            Outcome::Counted {
                request,
                have,
                need,
            } => {
                let mut view = RequestView::of(&request, Audience::Approver, config);
                view.approvals = Some(super::views::Quorum { have, need });
                (StatusCode::ACCEPTED, Json(view))
            }
        },
    )
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
    ensure_pending(&request, now)?;
    let reason = body.reason.trim();
    if reason.is_empty()
        || reason.chars().count() > 500
        || reason
            .chars()
            .any(|c| (c.is_control() && c != '\n') || crate::approval::is_bidi_control(c))
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
        statement: body.statement.clone().into_bytes(),
    };
    let event = AuditEvent::new(
        now,
        kind::DENIAL,
        device.did,
        &id,
        json!({
            "device": device.name, "reason": reason, "statement": body.statement,
        }),
    );
    let decided = state.store.deny(&id, &denial, &[event]).await?;
    state.waiters.wake(&id);
    state.announce(false);
    state
        .metrics
        .inc("countersign_decisions_total", label("state", "denied"));
    state.metrics.observe_decision(now - request.created_at);
    tracing::info!(request = %id, device = %device.name, "denied");
    suspend_if_denied_often(&state, &decided, now).await?;
    Ok(Json(RequestView::of(
        &decided,
        Audience::Approver,
        &state.config.requests,
    )))
}

/// Repeated denials of one agent suspend it until the owner resumes it.
async fn suspend_if_denied_often(
    state: &AppState,
    denied: &Request,
    now: i64,
) -> Result<(), ApiError> {
    let c = &state.config.agents;
    let window = i64::try_from(c.denial_window.0).unwrap_or(i64::MAX);
    let denials = state
        .store
        .count_denials(&denied.agent_did, now.saturating_sub(window))
        .await?;
    if c.denials_to_suspend > 0 && denials >= u64::from(c.denials_to_suspend) {
        let event = AuditEvent::new(
            now,
            kind::AGENT_SUSPENDED,
            "service",
            &denied.agent_name,
            json!({
                "suspended": true, "denials": denials, "window": c.denial_window.0,
            }),
        );
        state
            .store
            .suspend_agent(&denied.agent_did, now, &[event])
            .await?;
        state.announce(false);
        tracing::warn!(agent = %denied.agent_name, denials, "agent suspended after repeated denials");
    }
    Ok(())
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
    let now = state.now();
    let event = AuditEvent::new(now, kind::REQUEST_WITHDRAWN, agent.did, &id, json!({}));
    let decided = state.store.withdraw(&id, &agent.did, now, &[event]).await?;
    state.waiters.wake(&id);
    state.announce(false);
    state
        .metrics
        .inc("countersign_decisions_total", label("state", "withdrawn"));
    Ok(Json(RequestView::of(
        &decided,
        Audience::Requester,
        &state.config.requests,
    )))
}
