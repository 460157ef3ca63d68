//! Decoding tokens that arrive in JSON bodies.

use countersign_core::json::decode_base64;

use crate::error::ApiError;

/// Largest token accepted in a body (base64 text).
const MAX_TOKEN_TEXT: usize = 96 * 1024;

/// Standard base64 (padded or not) of one token envelope.
pub fn base64_token(text: &str, field: &str) -> Result<Vec<u8>, ApiError> {
    if text.len() > MAX_TOKEN_TEXT {
        return Err(ApiError::invalid(format!("{field}: token too large")));
    }
    decode_base64(text).ok_or_else(|| ApiError::invalid(format!("{field}: not standard base64")))
}

/// A JSON body whose rejections (bad JSON, unknown fields, wrong content type, too large)
/// answer in the API's error shape.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for JsonBody<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(JsonBody(value)),
            // Well-formed JSON of the wrong shape is as much a bad request as broken JSON.
            Err(rejection) => {
                let status = match rejection.status() {
                    axum::http::StatusCode::UNPROCESSABLE_ENTITY => {
                        axum::http::StatusCode::BAD_REQUEST
                    }
                    other => other,
                };
                Err(ApiError::new(
                    status,
                    "invalid_request",
                    rejection.body_text(),
                ))
            }
        }
    }
}

/// Query parameters whose rejections answer in the API's error shape.
#[derive(Debug)]
pub struct QueryArgs<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for QueryArgs<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(QueryArgs(value)),
            Err(rejection) => Err(ApiError::new(
                rejection.status(),
                "invalid_request",
                rejection.body_text(),
            )),
        }
    }
}
