//! API errors: one JSON shape, `{"error": {"code", "message"}}`, stable codes, and no
//! internals in any response.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::store::StoreError;

/// An error answered to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable, machine-readable code.
    pub code: &'static str,
    /// What went wrong, for a person.
    pub message: String,
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable code, e.g. `invalid_request`, `request_expired`.
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    /// A signed approval or denial that the service refuses; the code says which rule.
    pub fn refused(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// An internal failure: logged in full, answered without details.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; the service log has the details",
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::not_found("record"),
            StoreError::AlreadyExists => {
                ApiError::new(StatusCode::CONFLICT, "already_exists", "it already exists")
            }
            StoreError::NotPending(state) => ApiError::new(
                StatusCode::CONFLICT,
                match state {
                    crate::store::RequestState::Expired => "request_expired",
                    _ => "request_decided",
                },
                format!("the request is {}", state.as_str()),
            ),
            StoreError::PairingUnavailable => ApiError::new(
                StatusCode::CONFLICT,
                "pairing_unavailable",
                "the pairing code is unknown, used or expired",
            ),
            StoreError::TooManyPending => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_pending",
                "too many requests are pending; wait for decisions or withdraw some",
            ),
            StoreError::RateLimited => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many requests in the last minute",
            ),
            StoreError::Database(detail) => ApiError::internal(detail),
            StoreError::Unavailable(detail) => {
                tracing::warn!(error = %detail, "the database is unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the database is unavailable; try again shortly",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RequestState;

    fn body_of(e: ApiError) -> (StatusCode, serde_json::Value) {
        let status = e.status;
        let body = ErrorBody {
            error: ErrorDetail {
                code: e.code.to_owned(),
                message: e.message,
            },
        };
        (status, serde_json::to_value(body).unwrap())
    }

    #[test]
    fn store_errors_map_to_stable_codes_without_internals() {
        let cases = [
            (StoreError::NotFound, StatusCode::NOT_FOUND, "not_found"),
            (
                StoreError::AlreadyExists,
                StatusCode::CONFLICT,
                "already_exists",
            ),
            (
                StoreError::NotPending(RequestState::Expired),
                StatusCode::CONFLICT,
                "request_expired",
            ),
            (
                StoreError::NotPending(RequestState::Approved),
                StatusCode::CONFLICT,
                "request_decided",
            ),
            (
                StoreError::TooManyPending,
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_pending",
            ),
            (
                StoreError::RateLimited,
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
            ),
            (
                StoreError::Database("relation \"requests\" does not exist".into()),
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
            ),
            (
                StoreError::Unavailable("relation pool timed out".into()),
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
            ),
        ];
        for (err, status, code) in cases {
            let (s, body) = body_of(err.into());
            assert_eq!(s, status);
            assert_eq!(body["error"]["code"], code);
            assert!(
                !body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("relation")
            );
        }
    }
}
