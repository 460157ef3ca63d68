//! The HTTP API, version 1: one module per resource, thin handlers over the rules in
//! `approval` and the `Store`.

mod agents;
mod audit;
mod auto;
mod decide;
mod devices;
mod health;
mod kill;
pub mod openapi;
mod pairings;
mod push;
mod quorum;
mod receipts;
pub mod requests;
mod revocations;
mod service;
mod tokens;
mod views;
mod wait;

use axum::Router;
use axum::routing::{get, post};

pub use views::{AgentView, DeviceView, RequestView};

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/v1/service", get(service::info))
        .route("/v1/openapi.json", get(openapi::serve))
        .route("/v1/agents", post(agents::add).get(agents::list))
        .route("/v1/agents/{name}", axum::routing::delete(agents::remove))
        .route("/v1/agents/{name}/resume", post(agents::resume))
        .route("/v1/pairings", post(pairings::create))
        .route("/v1/pairings/claim", post(pairings::claim))
        .route("/v1/pairings/{id}", get(pairings::get))
        .route("/v1/pairings/{id}/confirm", post(pairings::confirm))
        .route("/v1/devices", get(devices::list))
        .route("/v1/devices/me", get(devices::me))
        .route("/v1/devices/{id}", axum::routing::delete(devices::remove))
        .route("/v1/push/vapid", get(push::vapid))
        .route(
            "/v1/push/subscriptions",
            post(push::subscribe).delete(push::unsubscribe),
        )
        .route("/v1/requests", post(requests::create).get(requests::list))
        .route("/v1/requests/{id}", get(requests::get))
        .route("/v1/requests/{id}/wait", get(wait::wait))
        .route("/v1/requests/{id}/events", get(wait::events))
        .route("/v1/requests/{id}/approve", post(decide::approve))
        .route("/v1/requests/{id}/deny", post(decide::deny))
        .route("/v1/requests/{id}/withdraw", post(decide::withdraw))
        .route(
            "/v1/revocations",
            post(revocations::create).get(revocations::feed),
        )
        .route("/v1/revocations/events", get(revocations::events))
        .route("/v1/tokens", get(tokens::list))
        .route("/v1/kill", post(kill::kill))
        .route("/v1/kill/lift", post(kill::lift))
        .route("/v1/audit", get(audit::page))
        .route("/v1/audit/checkpoint", post(audit::checkpoint))
        .route("/v1/audit/events", get(audit::events))
        .route("/v1/receipts", post(receipts::receipt))
        .route("/v1/auto-approvals", post(auto::add).get(auto::list))
        .route(
            "/v1/auto-approvals/{cid}",
            axum::routing::delete(auto::remove),
        )
        .route("/v1/quorum-rules", post(quorum::add).get(quorum::list))
        .route(
            "/v1/quorum-rules/{id}",
            axum::routing::delete(quorum::remove),
        )
}
