//! The Countersign approval service: agents request capabilities, paired devices approve
//! them with signed UCAN delegations, and the service issues short-lived chains.

pub mod api;
pub mod approval;
pub mod audit;
pub mod auth;
pub mod clock;
pub mod config;
pub mod duration;
pub mod error;
pub mod ids;
mod input;
pub mod pairing;
pub mod setup;
pub mod state;
pub mod store;
mod waiters;

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

use crate::error::ApiError;
use crate::state::AppState;

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    let limits = &state.config.limits;
    // Long-polls hold a request open up to `max_wait`; everything else answers quickly.
    let timeout = Duration::from_secs(
        limits
            .request_timeout
            .0
            .max(state.config.requests.max_wait.0 + 10),
    );
    api::routes()
        .fallback(|| async { ApiError::not_found("route") })
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("x-content-type-options"),
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("cache-control"),
            HeaderValue::from_static("no-store"),
        ))
        .with_state(state)
}

/// Serves until `shutdown` completes, with the background work (expiring requests,
/// forgetting used token ids) running alongside.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let housekeeping = tokio::spawn(housekeeping(state.clone()));
    let result = axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await;
    housekeeping.abort();
    result
}

/// Expires due requests every second (waking their waiters) and prunes used JWT ids.
async fn housekeeping(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut n: u64 = 0;
    loop {
        tick.tick().await;
        if let Err(e) = api::requests::expire_due(&state).await {
            tracing::warn!(error = %e.message, "expiring requests failed");
        }
        n += 1;
        if n % 60 == 0 {
            if let Err(e) = state.store.prune_jtis(state.now()).await {
                tracing::warn!(error = %e, "pruning used token ids failed");
            }
        }
    }
}
