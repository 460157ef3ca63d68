//! `POST /v1/invoke`: the container as the body (`text/plain`, any container form) or as
//! JSON `{"container": "…"}`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use countersign_core::ErrorKind;
use countersign_core::container::{Container, ContainerLimits};
use serde::Deserialize;
use serde_json::json;

use crate::error::{ApiError, Kind};
use crate::invoke::Invoked;
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonBody {
    container: String,
}

pub async fn invoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let tokens = match body.map_err(too_large).and_then(|b| tokens(&headers, &b)) {
        Ok(tokens) => tokens,
        Err(e) => {
            state.metrics.refused(e.kind.as_str());
            return e.into_response();
        }
    };
    match crate::invoke::invoke(&state, tokens).await {
        Ok(invoked) => {
            state.metrics.executed(invoked.upstream.outcome.as_str());
            answer(invoked)
        }
        Err(e) => {
            state.metrics.refused(e.kind.as_str());
            e.into_response()
        }
    }
}

fn too_large(rejection: BytesRejection) -> ApiError {
    let kind = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Kind::Core(ErrorKind::LimitExceeded)
    } else {
        Kind::BadRequest
    };
    ApiError::new(kind, rejection.body_text())
}

/// The container's tokens, from either form of the body.
fn tokens(headers: &HeaderMap, body: &[u8]) -> Result<Vec<Vec<u8>>, ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.split(';').next().unwrap_or("").trim() == "application/json");
    let parsed;
    let text = if is_json {
        parsed = serde_json::from_slice::<JsonBody>(body).map_err(|e| {
            ApiError::new(
                Kind::BadRequest,
                format!("the body must be {{\"container\": \"…\"}}: {e}"),
            )
        })?;
        parsed.container.as_bytes()
    } else {
        body
    };
    let container = Container::parse(text, &ContainerLimits::default()).map_err(|e| {
        ApiError::new(
            Kind::Core(ErrorKind::MalformedToken),
            format!("the body is not a UCAN container: {e}"),
        )
    })?;
    Ok(container.into_tokens())
}

fn answer(invoked: Invoked) -> Response {
    let up = &invoked.upstream;
    let mut body = json!({
        "ok": up.failure.is_none() && up.outcome == crate::store::Outcome::Ok,
        "invocation": invoked.invocation.to_string(),
        "route": invoked.route.as_str(),
    });
    let status = match &up.failure {
        Some(failure) => {
            body["error"] = failure.body()["error"].clone();
            failure.kind.status()
        }
        None => {
            body["upstream"] = json!({
                "status": up.status,
                "body": up.body,
                "truncated": up.truncated,
            });
            if body["ok"] == true {
                StatusCode::OK
            } else {
                StatusCode::BAD_GATEWAY
            }
        }
    };
    (status, Json(body)).into_response()
}
