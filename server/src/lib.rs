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
pub mod metrics;
pub mod notify;
pub mod pairing;
pub mod setup;
pub mod state;
pub mod store;
mod waiters;
mod web;

use std::future::Future;
use std::sync::Arc;
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
/// Connections are served by hyper directly so that a client gets at most
/// `limits.header_timeout` to send its request head (a slow client cannot hold a
/// connection open); bodies and answers are bounded by `limits.request_timeout`; at most
/// `limits.max_connections` are served at once. At shutdown, long-polls answer at once
/// and in-flight calls finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let housekeeping = tokio::spawn(housekeeping(state.clone()));
    let notifications = tokio::spawn(notify::run(state.clone()));
    let changes = tokio::spawn(follow_changes(state.clone()));
    let service = hyper_util::service::TowerToHyperService::new(app(state.clone()));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs(state.config.limits.header_timeout.0));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(
        state.config.limits.max_connections.max(1),
    ));
    let mut warned_full: Option<tokio::time::Instant> = None;
    tokio::pin!(shutdown);
    loop {
        // At `limits.max_connections`, stop accepting: further connections wait in the
        // listen backlog until one ends.
        if slots.available_permits() == 0
            && warned_full.is_none_or(|at| at.elapsed() >= Duration::from_secs(60))
        {
            tracing::warn!(
                max = state.config.limits.max_connections,
                "the connection limit is reached (limits.max_connections): new connections \
                 wait until one ends"
            );
            warned_full = Some(tokio::time::Instant::now());
        }
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        // Out of file descriptors and the like: pause rather than spin.
                        tracing::warn!(error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                // Small answers and stream events go out at once, not after the peer's
                // delayed acknowledgement of the previous segment.
                let _ = stream.set_nodelay(true);
                let conn = http.serve_connection(hyper_util::rt::TokioIo::new(stream), service.clone());
                let conn = graceful.watch(conn);
                let open = state.metrics.connection();
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                    drop((slot, open));
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    // In-flight calls finish; long-polls answer with the current state at once.
    state.begin_shutdown();
    let drain = Duration::from_secs(state.config.limits.request_timeout.0);
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("some connections were still open when shutdown ended");
    }
    housekeeping.abort();
    notifications.abort();
    changes.abort();
    Ok(())
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
