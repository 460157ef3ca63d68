//! `/v1/audit`: the hash-chained log for the owner — pages, live events, checkpoints on
//! demand.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::actions::checkpoint::sign_now;
use crate::audit::{Checkpoint, Entry};
use crate::auth::Owner;
use crate::error::ApiError;
use crate::input::QueryArgs;
use crate::state::AppState;

const PAGE: u32 = 1000;
const RECHECK: Duration = Duration::from_secs(2);

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Entries after this sequence number (default 0: from the start).
    pub after: Option<i64>,
    /// At most this many (default and maximum 1000).
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// The service whose key signs the checkpoints.
    pub service: String,
    #[schema(value_type = Vec<Object>)]
    pub entries: Vec<Entry>,
    /// Checkpoints covering entries after `after`.
    #[schema(value_type = Vec<Object>)]
    pub checkpoints: Vec<Checkpoint>,
    /// Pass as `after` to continue.
    pub next: i64,
    /// Entries in the whole log, and the hex hash of the newest: where a reader that only
    /// wants new entries starts.
    pub count: i64,
    pub head: String,
}

#[utoipa::path(get, path = "/v1/audit", tag = "audit", params(AuditQuery), security(("owner" = [])),
    responses((status = 200, body = AuditPage)))]
pub async fn page(
    State(state): State<AppState>,
    _owner: Owner,
    QueryArgs(q): QueryArgs<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    let after = q.after.unwrap_or(0).max(0);
    let limit = q.limit.unwrap_or(PAGE).clamp(1, PAGE);
    let entries = state.store.audit_entries(after, limit).await?;
    let next = entries.last().map_or(after, |e| e.seq);
    let last_page = entries.len() < limit as usize;
    // Each page carries the checkpoints over its entries; the last page carries every
    // later one too, so an export shows a checkpoint that outlives deleted entries.
    let checkpoints = state
        .store
        .checkpoints(after)
        .await?
        .into_iter()
        .filter(|c| last_page || c.count <= next)
        .collect();
    let (count, head) = state.store.audit_head().await?;
    Ok(Json(AuditPage {
        count,
        head,
        service: state.service_did().to_string(),
        entries,
        checkpoints,
        next,
    }))
}

#[utoipa::path(post, path = "/v1/audit/checkpoint", tag = "audit", security(("owner" = [])),
    responses((status = 200, body = Object, description = "The signed checkpoint")))]
pub async fn checkpoint(
    State(state): State<AppState>,
    _owner: Owner,
) -> Result<Json<Checkpoint>, ApiError> {
    Ok(Json(sign_now(&state).await?))
}

#[utoipa::path(get, path = "/v1/audit/events", tag = "audit", params(AuditQuery), security(("owner" = [])),
    responses((status = 200, description = "text/event-stream of `entry` events carrying audit entries"),
        (status = 429, description = "the owner already holds `limits.max_streams_per_caller` long-polls or streams", body = crate::error::ErrorBody)))]
pub async fn events(
    State(state): State<AppState>,
    owner: Owner,
    QueryArgs(q): QueryArgs<AuditQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let hold = state.hold(&owner.0)?;
    let start = q.after.unwrap_or(0).max(0);
    let changes = state.audit_feed.subscribe();
    let stream = futures_util::stream::unfold(
        (
            state,
            changes,
            start,
            std::collections::VecDeque::<Entry>::new(),
            hold,
        ),
        |(state, mut changes, mut after, mut queue, hold)| async move {
            loop {
                if state.is_stopping() {
                    return None;
                }
                if let Some(e) = queue.pop_front() {
                    after = e.seq;
                    let event = Event::default()
                        .event("entry")
                        .id(e.seq.to_string())
                        .json_data(&e)
                        .unwrap_or_else(|_| Event::default().comment("unencodable"));
                    return Some((Ok(event), (state, changes, after, queue, hold)));
                }
                changes.mark_unchanged();
                match state.store.audit_entries(after, PAGE).await {
                    Ok(page) if !page.is_empty() => queue.extend(page),
                    Ok(_) => {
                        let _ = tokio::time::timeout(RECHECK, changes.changed()).await;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "audit stream: store read failed");
                        tokio::time::sleep(RECHECK).await;
                    }
                }
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(10))))
}
