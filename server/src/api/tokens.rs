//! `GET /v1/tokens`: what the service has issued and what is still outstanding.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Owner;
use crate::error::ApiError;
use crate::input::QueryArgs;
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TokensQuery {
    /// Only this agent's (by name).
    pub agent: Option<String>,
    /// Only tokens neither expired nor revoked.
    #[serde(default)]
    pub live: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    pub cid: String,
    /// `issued` (approved by a device) or `auto` (under an auto-approval).
    pub kind: String,
    pub agent: Option<String>,
    pub command: String,
    pub request_id: Option<String>,
    pub issued_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

#[utoipa::path(get, path = "/v1/tokens", tag = "revocation", params(TokensQuery), security(("owner" = [])),
    responses((status = 200, body = Vec<TokenView>)))]
pub async fn list(
    State(state): State<AppState>,
    _owner: Owner,
    QueryArgs(q): QueryArgs<TokensQuery>,
) -> Result<Json<Vec<TokenView>>, ApiError> {
    let agents = state.store.list_agents().await?;
    let agent = match &q.agent {
        None => None,
        Some(name) => Some(
            agents
                .iter()
                .find(|a| a.name == *name)
                .ok_or_else(|| ApiError::not_found("agent"))?
                .did,
        ),
    };
    let live_at = q.live.then(|| state.now());
    let tokens = state.store.list_tokens(agent.as_ref(), live_at).await?;
    let name_of = |did: Option<countersign_core::Did>| {
        did.map(|d| {
            agents
                .iter()
                .find(|a| a.did == d)
                .map_or_else(|| d.to_string(), |a| a.name.clone())
        })
    };
    Ok(Json(
        tokens
            .into_iter()
            .map(|t| TokenView {
                agent: name_of(t.agent_did),
                cid: t.cid,
                kind: t.kind,
                command: t.command,
                request_id: t.request_id,
                issued_at: t.issued_at,
                expires_at: t.expires_at,
                revoked_at: t.revoked_at,
            })
            .collect(),
    ))
}
