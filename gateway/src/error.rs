//! Refusals and errors: one JSON shape, `{"error": {"kind", "message"}}`, stable kinds,
//! and no internals in any response.

use std::fmt;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use countersign_core::ErrorKind;
use serde_json::json;

/// Why an invocation is refused or failed. The core's validation kinds, then ours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A failure of the chain itself, as the core names it.
    Core(ErrorKind),
    /// The invocation was accepted before.
    Replayed,
    /// The invocation has no `exp`.
    NoExpiry,
    /// The invocation lives longer than the gateway accepts.
    LifetimeTooLong,
    /// The chain's subject is not an owner this gateway trusts.
    UntrustedSubject,
    /// No route serves the invoked command.
    NoRoute,
    /// The args hold a key the route does not map, or cannot make the upstream request.
    InvalidArgs,
    /// The revocation view is older than the configured bound.
    StaleRevocations,
    /// Fewer approvals from distinct devices than the route's quorum.
    QuorumNotMet,
    /// The request to the gateway is not readable (not a container, bad JSON).
    BadRequest,
    /// The upstream could not be reached or failed before answering.
    UpstreamUnavailable,
    /// The upstream did not answer in time; whether it acted is unknown.
    UpstreamTimeout,
    NotFound,
    Internal,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Core(kind) => kind.as_str(),
            Kind::Replayed => "Replayed",
            Kind::NoExpiry => "NoExpiry",
            Kind::LifetimeTooLong => "LifetimeTooLong",
            Kind::UntrustedSubject => "UntrustedSubject",
            Kind::NoRoute => "NoRoute",
            Kind::InvalidArgs => "InvalidArgs",
            Kind::StaleRevocations => "StaleRevocations",
            Kind::QuorumNotMet => "QuorumNotMet",
            Kind::BadRequest => "BadRequest",
            Kind::UpstreamUnavailable => "UpstreamUnavailable",
            Kind::UpstreamTimeout => "UpstreamTimeout",
            Kind::NotFound => "NotFound",
            Kind::Internal => "Internal",
        }
    }

    /// The HTTP status a refusal of this kind answers with.
    pub fn status(self) -> StatusCode {
        match self {
            Kind::Core(
                ErrorKind::MalformedToken | ErrorKind::UnavailableProof | ErrorKind::LimitExceeded,
            )
            | Kind::InvalidArgs
            | Kind::BadRequest => StatusCode::BAD_REQUEST,
            Kind::Core(_)
            | Kind::NoExpiry
            | Kind::LifetimeTooLong
            | Kind::UntrustedSubject
            | Kind::QuorumNotMet => StatusCode::FORBIDDEN,
            Kind::NoRoute | Kind::NotFound => StatusCode::NOT_FOUND,
            Kind::Replayed => StatusCode::CONFLICT,
            // Not the caller's fault: the same invocation may pass once the view is fresh.
            Kind::StaleRevocations => StatusCode::SERVICE_UNAVAILABLE,
            Kind::UpstreamUnavailable => StatusCode::BAD_GATEWAY,
            Kind::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refusal or failure, answered as `{"error": {"kind", "message"}}`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct ApiError {
    pub kind: Kind,
    pub message: String,
}

impl ApiError {
    pub fn new(kind: Kind, message: impl Into<String>) -> ApiError {
        ApiError {
            kind,
            message: message.into(),
        }
    }

    /// An internal failure: logged in full, answered without details.
    pub fn internal(detail: impl fmt::Display) -> ApiError {
        tracing::error!(error = %detail, "internal error");
        ApiError::new(
            Kind::Internal,
            "internal error; the gateway log has the details",
        )
    }

    pub fn body(&self) -> serde_json::Value {
        json!({"error": {"kind": self.kind.as_str(), "message": self.message}})
    }
}

impl From<countersign_core::ValidationError> for ApiError {
    fn from(e: countersign_core::ValidationError) -> Self {
        ApiError::new(Kind::Core(e.kind()), e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.kind.status(), Json(self.body())).into_response();
        if self.kind == Kind::StaleRevocations {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_have_stable_names_and_statuses() {
        let cases = [
            (Kind::Core(ErrorKind::MatchError), "MatchError", 403),
            (Kind::Core(ErrorKind::MalformedToken), "MalformedToken", 400),
            (Kind::Core(ErrorKind::Revoked), "Revoked", 403),
            (Kind::Replayed, "Replayed", 409),
            (Kind::NoExpiry, "NoExpiry", 403),
            (Kind::LifetimeTooLong, "LifetimeTooLong", 403),
            (Kind::UntrustedSubject, "UntrustedSubject", 403),
            (Kind::NoRoute, "NoRoute", 404),
            (Kind::InvalidArgs, "InvalidArgs", 400),
            (Kind::StaleRevocations, "StaleRevocations", 503),
            (Kind::QuorumNotMet, "QuorumNotMet", 403),
            (Kind::UpstreamTimeout, "UpstreamTimeout", 504),
        ];
        for (kind, name, status) in cases {
            assert_eq!((kind.as_str(), kind.status().as_u16()), (name, status));
            let body = ApiError::new(kind, "m").body();
            assert_eq!(body["error"]["kind"], name);
            assert_eq!(body["error"]["message"], "m");
        }
    }

    #[test]
    fn internal_errors_hide_details() {
        let e = ApiError::internal("disk I/O error at /var/lib/x");
        assert_eq!(e.kind.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!e.message.contains("/var/lib"));
    }
}
