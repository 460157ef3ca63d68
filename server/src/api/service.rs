//! `GET /v1/service`: who this service is, for clients to address their tokens.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceInfo {
    /// The service's DID: the `aud` of every caller's token and of every approval.
    pub did: String,
    /// The owner's DID: the subject of every capability.
    pub owner: String,
    pub version: String,
    /// Where the approver web app is served.
    pub approver_url: String,
}

#[utoipa::path(get, path = "/v1/service", tag = "service",
    responses((status = 200, body = ServiceInfo)))]
pub async fn info(State(state): State<AppState>) -> Json<ServiceInfo> {
    Json(ServiceInfo {
        did: state.service_did().to_string(),
        owner: state.owner.to_string(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        approver_url: format!("{}/", state.config.public_url()),
    })
}
