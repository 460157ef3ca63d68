//! The OpenAPI document of the API, generated from the handlers and their types.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "Countersign", description = "Human-approved UCAN capabilities for AI agents."),
    paths(
        super::service::info, super::health::healthz, super::health::readyz, super::health::metrics,
        super::agents::add, super::agents::list, super::agents::remove, super::agents::resume,
        super::pairings::create, super::pairings::claim, super::pairings::get, super::pairings::confirm,
        super::devices::list, super::devices::me, super::devices::remove,
        super::push::vapid, super::push::subscribe, super::push::unsubscribe,
        super::requests::create, super::requests::list, super::requests::get,
        super::wait::wait, super::wait::events,
        super::decide::approve, super::decide::deny, super::decide::withdraw,
        super::revocations::create, super::revocations::feed, super::revocations::events,
        super::tokens::list, super::kill::kill, super::kill::lift,
        super::audit::page, super::audit::checkpoint, super::audit::events, super::receipts::receipt,
        super::auto::add, super::auto::list, super::auto::remove,
        super::quorum::add, super::quorum::list, super::quorum::remove,
    ),
    modifiers(&Security),
)]
pub struct ApiDoc;

/// Every caller signs its own short EdDSA JWT; the schemes differ only in who may call.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, who) in [
            ("owner", "the owner's key"),
            ("agent", "a registered agent's key"),
            ("device", "a paired device's key"),
            ("signer", "any Ed25519 key (a device claiming a pairing)"),
        ] {
            let scheme = HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .description(Some(format!(
                    "A self-signed EdDSA JWT by {who}: iss = its did:key, aud = the service DID, \
                     exp at most 5 minutes after iat, a jti used once."
                )))
                .build();
            components.add_security_scheme(name, SecurityScheme::Http(scheme));
        }
    }
}

/// The document as JSON.
pub fn document() -> serde_json::Value {
    serde_json::to_value(ApiDoc::openapi()).unwrap_or_default()
}

#[utoipa::path(get, path = "/v1/openapi.json", tag = "service",
    responses((status = 200, description = "This document")))]
pub async fn serve() -> Json<serde_json::Value> {
    Json(document())
}
