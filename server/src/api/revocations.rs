//! `/v1/revocations`: signed revocation records in, an ordered public feed out (by cursor,
//! and live as server-sent events).

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use countersign_core::revocation::RevocationJson;
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::actions::revoke::revoke;
use crate::error::ApiError;
use crate::input::{JsonBody, QueryArgs};
use crate::state::AppState;
use crate::store::RevokedEntry;

/// Streams look at the store at least this often, for revocations made by other replicas.
const RECHECK: Duration = Duration::from_secs(2);
const PAGE: u32 = 500;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRevocation {
    /// A UCAN revocation record: `{urv, iss, rvk, sig}` with `sig` over `REVOKE-UCAN:<rvk>`.
    #[schema(value_type = Object)]
    pub record: RevocationJson,
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RevocationAccepted {
    pub cid: String,
    /// Its position in the feed; absent if it was already revoked.
    pub cursor: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FeedItem {
    pub cursor: i64,
    pub cid: String,
    pub revoked_at: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FeedPage {
    pub revocations: Vec<FeedItem>,
    /// Pass as `after` to continue.
    pub next: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    /// Only revocations after this cursor (default 0: from the start).
    pub after: Option<i64>,
    /// At most this many (default and maximum 500).
    pub limit: Option<u32>,
}

impl From<&RevokedEntry> for FeedItem {
    fn from(e: &RevokedEntry) -> Self {
        FeedItem {
            cursor: e.cursor,
            cid: e.cid.clone(),
            revoked_at: e.revoked_at,
        }
    }
}

#[utoipa::path(post, path = "/v1/revocations", tag = "revocation", request_body = NewRevocation,
    responses((status = 201, body = RevocationAccepted), (status = 200, body = RevocationAccepted, description = "Already revoked"),
              (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<NewRevocation>,
) -> Result<(StatusCode, Json<RevocationAccepted>), ApiError> {
    let revoked = revoke(&state, &body.record, &body.reason).await?;
    let status = if revoked.cursor.is_some() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(RevocationAccepted {
            cid: revoked.cid,
            cursor: revoked.cursor,
        }),
    ))
}

#[utoipa::path(get, path = "/v1/revocations", tag = "revocation", params(FeedQuery),
    responses((status = 200, body = FeedPage)))]
pub async fn feed(
    State(state): State<AppState>,
    QueryArgs(q): QueryArgs<FeedQuery>,
) -> Result<Json<FeedPage>, ApiError> {
    let after = q.after.unwrap_or(0).max(0);
    let entries = state
        .store
        .revocations_after(after, q.limit.unwrap_or(PAGE).clamp(1, PAGE))
        .await?;
    let next = entries.last().map_or(after, |e| e.cursor);
    Ok(Json(FeedPage {
        revocations: entries.iter().map(FeedItem::from).collect(),
        next,
    }))
}

#[utoipa::path(get, path = "/v1/revocations/events", tag = "revocation", params(FeedQuery),
    responses((status = 200, description = "text/event-stream of `revocation` events carrying FeedItem JSON"),
        (status = 503, description = "`limits.max_public_streams` revocation streams are open already", body = crate::error::ErrorBody)))]
pub async fn events(
    State(state): State<AppState>,
    QueryArgs(q): QueryArgs<FeedQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let hold = state.hold_public()?;
    let start = q.after.unwrap_or(0).max(0);
    let changes = state.revocation_feed.subscribe();
    let stream = futures_util::stream::unfold(
        (
            state,
            changes,
            start,
            std::collections::VecDeque::<RevokedEntry>::new(),
            hold,
        ),
        |(state, mut changes, mut after, mut queue, hold)| async move {
            loop {
                if state.is_stopping() {
                    return None;
                }
                if let Some(e) = queue.pop_front() {
                    after = e.cursor;
                    let event = Event::default()
                        .event("revocation")
                        .id(e.cursor.to_string())
                        .json_data(FeedItem::from(&e))
                        .unwrap_or_else(|_| Event::default().comment("unencodable"));
                    return Some((Ok(event), (state, changes, after, queue, hold)));
                }
                changes.mark_unchanged();
                match state.store.revocations_after(after, PAGE).await {
                    Ok(page) if !page.is_empty() => queue.extend(page),
                    Ok(_) => {
                        let _ = tokio::time::timeout(RECHECK, changes.changed()).await;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "revocation stream: store read failed");
                        tokio::time::sleep(RECHECK).await;
                    }
                }
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(5))))
}
