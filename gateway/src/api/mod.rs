//! The gateway's HTTP API: `POST /v1/invoke`, `GET /v1/gateway`, `GET /healthz`,
//! `GET /metrics`.

mod info;
mod invoke;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/invoke", post(invoke::invoke))
        .route("/v1/gateway", get(info::gateway))
        .route("/healthz", get(info::healthz))
        .route("/metrics", get(info::metrics))
}
