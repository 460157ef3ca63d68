//! `/v1/agents`: the owner registers, lists and removes agents.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use countersign_core::{Command, Did};
use serde::Deserialize;
use utoipa::ToSchema;

use super::views::AgentView;
use crate::audit::kind;
use crate::auth::Owner;
use crate::error::ApiError;
use crate::input::JsonBody;
use crate::state::AppState;
use crate::store::{Agent, AuditEvent};
use serde_json::json;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAgent {
    /// A short name: letters, digits, `-`, `_`, `.`; 1 to 64 characters.
    pub name: String,
    pub did: String,
    /// Command prefixes the agent may request (at least one), e.g. `/email/send`.
    pub allow: Vec<String>,
    pub max_pending: Option<u32>,
    pub rate_per_min: Option<u32>,
}

#[utoipa::path(post, path = "/v1/agents", tag = "agents", request_body = NewAgent,
    security(("owner" = [])),
    responses((status = 201, body = AgentView), (status = 400, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody)))]
pub async fn add(
    State(state): State<AppState>,
    Owner(owner): Owner,
    JsonBody(input): JsonBody<NewAgent>,
) -> Result<(StatusCode, Json<AgentView>), ApiError> {
    let name = valid_name(&input.name)?;
    let did: Did = input
        .did
        .parse()
        .map_err(|e: countersign_core::did::DidError| ApiError::invalid(format!("did: {e}")))?;
    if did.is_weak() {
        return Err(ApiError::invalid("did: the key is not usable"));
    }
    if did == state.owner || did == state.service_did() {
        return Err(ApiError::invalid(
            "the owner and the service cannot be agents",
        ));
    }
    if state.store.device_by_did(&did).await?.is_some() {
        return Err(ApiError::invalid(
            "that key belongs to a paired device; an approver cannot be an agent",
        ));
    }
    if input.allow.is_empty() {
        return Err(ApiError::invalid("allow: give at least one command prefix"));
    }
    let allow = input
        .allow
        .iter()
        .map(|c| {
            c.parse::<Command>()
                .map_err(|e| ApiError::invalid(format!("allow: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let agent = Agent {
        name,
        did,
        allow,
        max_pending: input
            .max_pending
            .unwrap_or(state.config.agents.max_pending)
            .max(1),
        rate_per_min: input
            .rate_per_min
            .unwrap_or(state.config.agents.rate_per_min)
            .max(1),
        created_at: state.now(),
    };
    let event = AuditEvent::new(
        agent.created_at,
        kind::AGENT_ADDED,
        owner,
        &agent.name,
        json!({
            "did": agent.did.to_string(), "allow": input.allow, "max_pending": agent.max_pending,
            "rate_per_min": agent.rate_per_min,
        }),
    );
    state
        .store
        .add_agent(&agent, &[event])
        .await
        .map_err(|e| match e {
            crate::store::StoreError::AlreadyExists => ApiError::new(
                StatusCode::CONFLICT,
                "already_exists",
                "an agent with that name or DID exists",
            ),
            other => other.into(),
        })?;
    state.announce(false);
    Ok((StatusCode::CREATED, Json(AgentView::from(&agent))))
}

#[utoipa::path(get, path = "/v1/agents", tag = "agents", security(("owner" = [])),
    responses((status = 200, body = Vec<AgentView>)))]
pub async fn list(
    State(state): State<AppState>,
    _owner: Owner,
) -> Result<Json<Vec<AgentView>>, ApiError> {
    let agents = state.store.list_agents().await?;
    Ok(Json(agents.iter().map(AgentView::from).collect()))
}

#[utoipa::path(delete, path = "/v1/agents/{name}", tag = "agents", security(("owner" = [])),
    params(("name" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    Owner(owner): Owner,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let event = AuditEvent::new(state.now(), kind::AGENT_REMOVED, owner, &name, json!({}));
    state
        .store
        .remove_agent(&name, &[event])
        .await
        .map_err(not_found)?;
    state.announce(false);
    Ok(StatusCode::NO_CONTENT)
}

/// Lifts a suspension (after repeated denials) so the agent may ask again.
#[utoipa::path(post, path = "/v1/agents/{name}/resume", tag = "agents", security(("owner" = [])),
    params(("name" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)))]
pub async fn resume(
    State(state): State<AppState>,
    Owner(owner): Owner,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let event = AuditEvent::new(
        state.now(),
        kind::AGENT_SUSPENDED,
        owner,
        &name,
        json!({"suspended": false}),
    );
    state
        .store
        .resume_agent(&name, &[event])
        .await
        .map_err(not_found)?;
    state.announce(false);
    Ok(StatusCode::NO_CONTENT)
}

fn not_found(e: crate::store::StoreError) -> ApiError {
    match e {
        crate::store::StoreError::NotFound => ApiError::not_found("agent"),
        other => other.into(),
    }
}

pub(super) fn valid_name(name: &str) -> Result<String, ApiError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(name.to_owned())
    } else {
        Err(ApiError::invalid(
            "name: 1 to 64 letters, digits, '-', '_' or '.'",
        ))
    }
}
