//! `/v1/kill`: the kill switch — revoke every live token of an agent (or of all agents),
//! cancel their pending requests and refuse new ones, until lifted.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::audit::kind;
use crate::auth::Owner;
use crate::error::ApiError;
use crate::input::JsonBody;
use crate::state::AppState;
use crate::store::{AuditEvent, KillTarget};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KillBody {
    /// The agent's name; omit with `all: true`.
    pub agent: Option<String>,
    #[serde(default)]
    pub all: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KillResult {
    pub tokens_revoked: u64,
    pub requests_cancelled: u64,
}

async fn target(state: &AppState, body: &KillBody) -> Result<(KillTarget, String), ApiError> {
    match (&body.agent, body.all) {
        (Some(name), false) => {
            let agent = state
                .store
                .list_agents()
                .await?
                .into_iter()
                .find(|a| a.name == *name)
                .ok_or_else(|| ApiError::not_found("agent"))?;
            Ok((KillTarget::Agent(agent.did), name.clone()))
        }
        (None, true) => Ok((KillTarget::All, "all agents".to_owned())),
        _ => Err(ApiError::invalid("give either an agent name or all: true")),
    }
}

#[utoipa::path(post, path = "/v1/kill", tag = "kill switch", request_body = KillBody, security(("owner" = [])),
    responses((status = 200, body = KillResult), (status = 404, body = crate::error::ErrorBody)))]
pub async fn kill(
    State(state): State<AppState>,
    Owner(owner): Owner,
    JsonBody(body): JsonBody<KillBody>,
) -> Result<Json<KillResult>, ApiError> {
    let (target, label) = target(&state, &body).await?;
    let now = state.now();
    let event = AuditEvent::new(now, kind::KILL, owner, &label, json!({}));
    let report = state.store.kill(target, now, &[event]).await?;
    for _ in 0..report.requests_cancelled {
        state.metrics.inc(
            "countersign_decisions_total",
            crate::metrics::label("state", "cancelled"),
        );
    }
    for _ in 0..report.tokens_revoked {
        state.metrics.inc(
            "countersign_revocations_total",
            crate::metrics::label("source", "kill_switch"),
        );
    }
    // Wake every waiter: those whose requests were cancelled answer at once.
    state.waiters.wake_all();
    state.announce(true);
    tracing::warn!(target = %label, tokens = report.tokens_revoked, requests = report.requests_cancelled, "kill switch pulled");
    Ok(Json(KillResult {
        tokens_revoked: report.tokens_revoked,
        requests_cancelled: report.requests_cancelled,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LiftResult {
    /// Whether a kill switch on this target was on and is now off.
    pub lifted: bool,
    /// Whether the target's new requests are still refused (a kill on all agents stays on
    /// until it is lifted itself).
    pub still_blocked: bool,
}

#[utoipa::path(post, path = "/v1/kill/lift", tag = "kill switch", request_body = KillBody, security(("owner" = [])),
    responses((status = 200, body = LiftResult), (status = 404, body = crate::error::ErrorBody)))]
pub async fn lift(
    State(state): State<AppState>,
    Owner(owner): Owner,
    JsonBody(body): JsonBody<KillBody>,
) -> Result<Json<LiftResult>, ApiError> {
    let (target, label) = target(&state, &body).await?;
    // A DID that is no agent is blocked exactly when everyone is.
    let probe = match target {
        KillTarget::Agent(did) => did,
        KillTarget::All => state.service_did(),
    };
    let was_on = state.store.is_killed(&probe).await?;
    let event = AuditEvent::new(state.now(), kind::KILL_LIFTED, owner, &label, json!({}));
    let events: &[AuditEvent] = if was_on {
        std::slice::from_ref(&event)
    } else {
        &[]
    };
    state.store.lift_kill(target, events).await?;
    let still_blocked = state.store.is_killed(&probe).await?;
    state.announce(false);
    Ok(Json(LiftResult {
        lifted: was_on && !still_blocked,
        still_blocked,
    }))
}
