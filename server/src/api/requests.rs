//! `/v1/requests`: an agent asks; approvers list; anyone involved reads one.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::views::{Audience, RequestView};
use crate::approval::{NewRequest, RequestRules, prepare_request};
use crate::auth::{AgentCaller, Approver, Caller};
use crate::error::ApiError;
use crate::input::JsonBody;
use crate::input::QueryArgs;
use crate::state::AppState;
use crate::store::{Request, RequestFilter, RequestState};
use crate::{actions, ids};

/// What an agent gets back: the id to wait on, the expiry, and the number-matching code.
#[derive(Debug, Serialize, ToSchema)]
pub struct Created {
    pub id: String,
    pub expires_at: i64,
    /// Read this out to the approver when number matching is on.
    pub code: String,
    pub state: String,
}

#[utoipa::path(post, path = "/v1/requests", tag = "requests", request_body = NewRequest,
    security(("agent" = [])),
    responses((status = 201, body = Created, description = "Created (and, under an auto-approval, already approved)"),
              (status = 200, body = Created, description = "An identical request was already pending: that one"),
              (status = 400, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody), (status = 429, body = crate::error::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    AgentCaller(agent): AgentCaller,
    JsonBody(input): JsonBody<NewRequest>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let c = &state.config.requests;
    let rules = RequestRules {
        default_expiry: c.default_expiry.0,
        max_expiry: c.max_expiry.0,
        default_lifetime: c.default_lifetime.0,
        max_lifetime: c.max_lifetime.0,
    };
    let request = prepare_request(
        input,
        &agent,
        &state.owner,
        rules,
        state.now(),
        ids::new_id("req"),
        ids::match_code(),
    )?;
    let (status, request) = match actions::create::create(&state, &agent, request).await? {
        actions::create::Created::Pending(r) | actions::create::Created::AutoApproved(r) => {
            (StatusCode::CREATED, r)
        }
        actions::create::Created::Merged(r) => (StatusCode::OK, r),
    };
    Ok((
        status,
        Json(Created {
            id: request.id,
            expires_at: request.expires_at,
            code: request.code,
            state: request.state.as_str().to_owned(),
        }),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `pending` (default), `approved`, `denied`, `expired`, `withdrawn` or `all`.
    pub state: Option<String>,
    /// At most this many, newest first (default 100, at most 1000).
    pub limit: Option<u32>,
}

#[utoipa::path(get, path = "/v1/requests", tag = "requests", params(ListQuery),
    security(("owner" = []), ("device" = [])),
    responses((status = 200, body = Vec<RequestView>)))]
pub async fn list(
    State(state): State<AppState>,
    _approver: Approver,
    QueryArgs(q): QueryArgs<ListQuery>,
) -> Result<Json<Vec<RequestView>>, ApiError> {
    expire_due(&state).await?;
    let filter_state = match q.state.as_deref() {
        None => Some(RequestState::Pending),
        Some("all") => None,
        Some(s) => Some(
            RequestState::parse(s)
                .ok_or_else(|| ApiError::invalid(format!("state: unknown {s:?}")))?,
        ),
    };
    let filter = RequestFilter {
        state: filter_state,
        agent_did: None,
        limit: q.limit.unwrap_or(100).clamp(1, 1000),
    };
    let requests = state.store.list_requests(&filter).await?;
    Ok(Json(
        requests
            .iter()
            .map(|r| RequestView::of(r, Audience::Approver, &state.config.requests))
            .collect(),
    ))
}

#[utoipa::path(get, path = "/v1/requests/{id}", tag = "requests", params(("id" = String, Path)),
    security(("agent" = []), ("owner" = []), ("device" = [])),
    responses((status = 200, body = RequestView), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<RequestView>, ApiError> {
    let request = current(&state, &id).await?;
    let audience = visible_to(&caller, &request)?;
    Ok(Json(RequestView::of(
        &request,
        audience,
        &state.config.requests,
    )))
}

/// Whether `caller` may see `request`, and as whom. Agents see only their own.
pub(super) fn visible_to(caller: &Caller, request: &Request) -> Result<Audience, ApiError> {
    match caller {
        Caller::Agent(a) if a.did == request.agent_did => Ok(Audience::Requester),
        // Another agent learns nothing, not even that the id exists.
        Caller::Agent(_) => Err(ApiError::not_found("request")),
        Caller::Owner(_) | Caller::Device(_) => Ok(Audience::Approver),
    }
}

/// Loads a request, first settling any expiry that is due.
pub(super) async fn current(state: &AppState, id: &str) -> Result<Request, ApiError> {
    let request = state
        .store
        .request(id)
        .await?
        .ok_or_else(|| ApiError::not_found("request"))?;
    if request.state == RequestState::Pending && state.now() >= request.expires_at {
        expire_due(state).await?;
        return state
            .store
            .request(id)
            .await?
            .ok_or_else(|| ApiError::not_found("request"));
    }
    Ok(request)
}

/// Marks due requests expired and wakes whoever waits on them.
pub async fn expire_due(state: &AppState) -> Result<(), ApiError> {
    let expired = state.store.expire_due(state.now()).await?;
    for id in &expired {
        state.metrics.inc(
            "countersign_decisions_total",
            crate::metrics::label("state", "expired"),
        );
        state.waiters.wake(id);
    }
    if !expired.is_empty() {
        state.announce(false);
    }
    Ok(())
}
