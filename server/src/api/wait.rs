//! Waiting for a decision: a long-poll that answers the moment a request is decided, and a
//! server-sent-events stream of its state.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::Deserialize;
use tokio::time::Instant;
use utoipa::IntoParams;

use super::requests::{current, visible_to};
use super::views::RequestView;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::input::QueryArgs;
use crate::state::AppState;
use crate::store::{Request, RequestState};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct WaitQuery {
    /// Seconds to wait at most (default 30; capped by the service's `max_wait`).
    pub timeout: Option<u64>,
}

/// Waits until the request is decided, expires, or the timeout passes; answers its state.
#[utoipa::path(get, path = "/v1/requests/{id}/wait", tag = "requests",
    params(("id" = String, Path), WaitQuery), security(("agent" = []), ("owner" = []), ("device" = [])),
    responses((status = 200, body = RequestView), (status = 404, body = crate::error::ErrorBody),
        (status = 429, description = "the caller already holds `limits.max_streams_per_caller` long-polls or streams", body = crate::error::ErrorBody)))]
pub async fn wait(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    QueryArgs(q): QueryArgs<WaitQuery>,
) -> Result<Json<RequestView>, ApiError> {
    // Counted before the first read (which also decides whether the caller may see the
    // request): a caller at its limit gets 429 whatever it asks for.
    let _hold = state.hold(caller.did())?;
    let limit = q
        .timeout
        .unwrap_or(30)
        .min(state.config.requests.max_wait.0);
    let deadline = Instant::now() + Duration::from_secs(limit);
    let (request, audience) =
        next_change(&state, &caller, &id, Some(RequestState::Pending), deadline).await?;
    Ok(Json(RequestView::of(
        &request,
        audience,
        &state.config.requests,
    )))
}

/// Waits until the request's state differs from `seen` (with `None`, answers at once),
/// or until `deadline`. Subscribes before each read so no wake-up is missed.
async fn next_change(
    state: &AppState,
    caller: &Caller,
    id: &str,
    seen: Option<RequestState>,
    deadline: Instant,
) -> Result<(Request, super::views::Audience), ApiError> {
    let subscription = state.waiters.subscribe(id);
    loop {
        let notified = subscription.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let request = current(state, id).await?;
        let audience = visible_to(caller, &request)?;
        let now = Instant::now();
        if seen != Some(request.state) || now >= deadline || state.is_stopping() {
            return Ok((request, audience));
        }
        let to_expiry = u64::try_from(request.expires_at - state.now()).unwrap_or(0);
        let pause = (deadline - now)
            .min(Duration::from_secs(state.config.requests.recheck.0))
            .min(Duration::from_secs(to_expiry) + Duration::from_millis(50));
        let _ = tokio::time::timeout(pause, notified).await;
    }
}

/// The request's state as server-sent events: one `state` event now and one per change,
/// ending once it is decided or expired.
#[utoipa::path(get, path = "/v1/requests/{id}/events", tag = "requests",
    params(("id" = String, Path)), security(("agent" = []), ("owner" = []), ("device" = [])),
    responses((status = 200, description = "text/event-stream of `state` events carrying RequestView JSON"),
        (status = 429, description = "the caller already holds `limits.max_streams_per_caller` long-polls or streams", body = crate::error::ErrorBody)))]
pub async fn events(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    // Fail before the stream starts if the caller may not see it.
    let first = current(&state, &id).await?;
    visible_to(&caller, &first)?;
    let hold = state.hold(caller.did())?;
    let max_wait = Duration::from_secs(state.config.requests.max_expiry.0 + 60);
    let stream = futures_util::stream::unfold(
        (state, caller, id, None::<RequestState>, false, hold),
        move |(state, caller, id, seen, done, hold)| async move {
            if done || state.is_stopping() {
                return None;
            }
            let deadline = Instant::now() + max_wait;
            let next = next_change(&state, &caller, &id, seen, deadline).await;
            let (event, seen, done) = match next {
                Ok((request, audience)) => {
                    let view = RequestView::of(&request, audience, &state.config.requests);
                    let event = Event::default()
                        .event("state")
                        .json_data(&view)
                        .unwrap_or_else(|_| Event::default().event("error"));
                    (event, Some(request.state), request.state.is_final())
                }
                Err(e) => (Event::default().event("error").data(e.message), seen, true),
            };
            Some((Ok(event), (state, caller, id, seen, done, hold)))
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
