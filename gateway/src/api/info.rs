//! `GET /v1/gateway` (who this gateway is, what it serves) and `GET /healthz`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::state::AppState;

/// The gateway's DID (the audience invocations must name), its owners and its routes.
pub async fn gateway(State(state): State<AppState>) -> Json<serde_json::Value> {
    let routes: Vec<serde_json::Value> = state
        .routes
        .commands()
        .into_iter()
        .filter_map(|command| state.routes.get(command))
        .map(|r| {
            json!({
                "command": r.command.as_str(),
                "adapter": r.adapter_name,
                "quorum": r.quorum,
                "args": r.mapped,
            })
        })
        .collect();
    let owners: Vec<String> = state
        .config
        .owners
        .iter()
        .map(ToString::to_string)
        .collect();
    Json(json!({
        "did": state.did().to_string(),
        "owners": owners,
        "routes": routes,
        "version": env!("CARGO_PKG_VERSION"),
    }))
}

/// 200 while the revocation view is fresh enough to decide on; 503 when it is not.
pub async fn healthz(State(state): State<AppState>) -> Response {
    let stale = state.is_stale();
    let body = json!({
        "ok": !stale,
        "revocations": {
            "cursor": state.view.cursor(),
            "synced_at": state.view.last_sync(),
            "live": state.view.is_live(),
            "stale": stale,
        },
    });
    let status = if stale {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (status, Json(body)).into_response()
}

/// Prometheus metrics: invocations executed by outcome, refused by kind.
pub async fn metrics(State(state): State<AppState>) -> impl axum::response::IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
