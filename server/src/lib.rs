//! The Countersign approval service: agents request capabilities, paired devices approve
//! them with signed UCAN delegations, and the service issues short-lived chains.

pub mod actions;
pub mod api;
pub mod approval;
pub mod audit;
pub mod auth;
pub mod clock;
pub mod config;
pub mod duration;
pub mod error;
pub mod holds;
pub mod ids;
mod input;
pub mod listen;
pub mod metrics;
pub mod notify;
pub mod pairing;
pub mod setup;
pub mod state;
pub mod store;
mod waiters;
mod web;

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
        .merge(web::routes())
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
/// checkpoints, notifications, other replicas' changes) running alongside.
///
/// A client gets at most `limits.header_timeout` to send its request head (a slow client
/// cannot hold a connection open); bodies and answers are bounded by
/// `limits.request_timeout`; at most `limits.max_connections` are served at once (see
/// [`listen`]). At shutdown, long-polls answer at once and in-flight calls finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let housekeeping = tokio::spawn(housekeeping(state.clone()));
    let notifications = tokio::spawn(notify::run(state.clone()));
    let changes = tokio::spawn(follow_changes(state.clone()));
    let limits = &state.config.limits;
    let connections = listen::ConnectionLimits {
        header_timeout: Duration::from_secs(limits.header_timeout.0),
        max_connections: limits.max_connections,
        drain: Duration::from_secs(limits.request_timeout.0),
    };
    let open = state.metrics.connections.clone();
    // In-flight calls finish; long-polls answer with the current state at once.
    let stopping = || state.begin_shutdown();
    let served = listen::serve(
        listener,
        app(state.clone()),
        connections,
        open,
        shutdown,
        stopping,
    )
    .await;
    housekeeping.abort();
    notifications.abort();
    changes.abort();
    served
}

/// Follows what other replicas commit (PostgreSQL), waking this process's waiters and
/// streams at once; on SQLite there are no other processes and this ends at once.
pub async fn follow_changes(state: AppState) {
    use futures_util::StreamExt;
    loop {
        match state.store.changes().await {
            Ok(None) => return,
            Ok(Some(mut stream)) => {
                while let Some(change) = stream.next().await {
                    dispatch_change(&state, &change);
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot listen for other replicas' changes"),
        }
        if state.is_stopping() {
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn dispatch_change(state: &AppState, change: &store::Change) {
    use audit::kind;
    let revocation = matches!(
        change.kind.as_str(),
        kind::REVOCATION | kind::KILL | kind::DEVICE_REMOVED
    );
    if change.kind == kind::KILL {
        state.waiters.wake_all();
    } else {
        state.waiters.wake(&change.subject);
    }
    state.announce(revocation);
}

/// Expires due requests every second (waking their waiters), signs an audit checkpoint
/// whenever the log has grown and `audit.checkpoint_every` has passed, and prunes used
/// JWT ids every minute.
async fn housekeeping(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let every = state.config.audit.checkpoint_every.0.max(1);
    let mut seconds: u64 = 0;
    let mut checkpointed = -1;
    loop {
        tick.tick().await;
        seconds += 1;
        if let Err(e) = api::requests::expire_due(&state).await {
            tracing::warn!(error = %e.message, "expiring requests failed");
        }
        if seconds % every == 0 {
            match state.store.audit_head().await {
                Ok((count, _)) if count != checkpointed => {
                    match actions::checkpoint::sign_now(&state).await {
                        Ok(c) => checkpointed = c.count,
                        Err(e) => {
                            tracing::warn!(error = %e.message, "signing an audit checkpoint failed")
                        }
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "reading the audit head failed"),
            }
        }
        if seconds % 60 == 0 {
            if let Err(e) = state.store.prune_jtis(state.now()).await {
                tracing::warn!(error = %e, "pruning used token ids failed");
            }
        }
    }
}
