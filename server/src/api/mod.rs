//! The HTTP API, version 1: one module per resource, thin handlers over the rules in
//! `approval` and the `Store`.

mod agents;
mod decide;
mod devices;
pub mod openapi;
mod pairings;
pub mod requests;
mod service;
mod views;
mod wait;

use axum::Router;
use axum::routing::{get, post};

pub use views::{AgentView, DeviceView, RequestView};

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/service", get(service::info))
        .route("/v1/openapi.json", get(openapi::serve))
        .route("/v1/agents", post(agents::add).get(agents::list))
        .route("/v1/agents/{name}", axum::routing::delete(agents::remove))
        .route("/v1/pairings", post(pairings::create))
        .route("/v1/pairings/claim", post(pairings::claim))
        .route("/v1/pairings/{id}", get(pairings::get))
        .route("/v1/pairings/{id}/confirm", post(pairings::confirm))
        .route("/v1/devices", get(devices::list))
        .route("/v1/devices/me", get(devices::me))
        .route("/v1/devices/{id}", axum::routing::delete(devices::remove))
        .route("/v1/requests", post(requests::create).get(requests::list))
        .route("/v1/requests/{id}", get(requests::get))
        .route("/v1/requests/{id}/wait", get(wait::wait))
        .route("/v1/requests/{id}/events", get(wait::events))
        .route("/v1/requests/{id}/approve", post(decide::approve))
        .route("/v1/requests/{id}/deny", post(decide::deny))
        .route("/v1/requests/{id}/withdraw", post(decide::withdraw))
}
