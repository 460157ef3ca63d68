//! `/v1/push`: the VAPID public key for the approver app, and devices' push subscriptions.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use data_encoding::{BASE64URL, BASE64URL_NOPAD};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::DeviceCaller;
use crate::error::ApiError;
use crate::input::JsonBody;
use crate::notify::push_problem;
use crate::state::AppState;
use crate::store::PushSubscription;

/// Subscriptions one device may hold (one per browser profile it runs in).
const MAX_PER_DEVICE: usize = 10;
/// Longest endpoint accepted; push services' URLs are a few hundred characters.
const MAX_ENDPOINT: usize = 2048;

#[derive(Debug, Serialize, ToSchema)]
pub struct VapidView {
    /// The `applicationServerKey` for `PushManager.subscribe`: the uncompressed P-256
    /// point, base64url without padding.
    pub public_key: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionBody {
    /// The push service URL of the subscription (`https://` only).
    pub endpoint: String,
    pub keys: SubscriptionKeys,
    /// What `PushSubscription.toJSON()` adds; ignored.
    #[serde(rename = "expirationTime", default)]
    #[expect(
        dead_code,
        reason = "accepted so the browser's object can be posted as it is"
    )]
    #[schema(value_type = Option<i64>)]
    pub expiration_time: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionKeys {
    /// The browser's P-256 public key, uncompressed, base64url.
    pub p256dh: String,
    /// The browser's 16-byte authentication secret, base64url.
    pub auth: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointBody {
    pub endpoint: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionView {
    pub endpoint: String,
    pub device_id: String,
    pub created_at: i64,
    pub updated_at: i64,
}

fn unavailable(problem: String) -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "push_unavailable", problem)
}

#[utoipa::path(get, path = "/v1/push/vapid", tag = "push",
    responses((status = 200, body = VapidView),
              (status = 503, body = crate::error::ErrorBody, description = "Web Push is not configured")))]
pub async fn vapid(State(state): State<AppState>) -> Result<Json<VapidView>, ApiError> {
    if let Some(problem) = push_problem(&state) {
        return Err(unavailable(problem));
    }
    let key = state
        .vapid_key()
        .ok_or_else(|| unavailable("Web Push is off".into()))?;
    Ok(Json(VapidView {
        public_key: key.public_key_base64url(),
    }))
}

#[utoipa::path(post, path = "/v1/push/subscriptions", tag = "push", request_body = SubscriptionBody,
    security(("device" = [])),
    responses((status = 201, body = SubscriptionView, description = "Registered"),
              (status = 200, body = SubscriptionView, description = "Refreshed"),
              (status = 400, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody, description = "Too many subscriptions"),
              (status = 503, body = crate::error::ErrorBody, description = "Web Push is not configured")))]
pub async fn subscribe(
    State(state): State<AppState>,
    DeviceCaller(device): DeviceCaller,
    JsonBody(body): JsonBody<SubscriptionBody>,
) -> Result<(StatusCode, Json<SubscriptionView>), ApiError> {
    if let Some(problem) = push_problem(&state) {
        return Err(unavailable(problem));
    }
    check_endpoint(&body.endpoint, state.config.push.allow_insecure_endpoints)?;
    let p256dh = decode_key(&body.keys.p256dh, "keys.p256dh")?;
    if p256dh.len() != 65 || p256::PublicKey::from_sec1_bytes(&p256dh).is_err() {
        return Err(ApiError::invalid(
            "keys.p256dh: must be an uncompressed P-256 public key (65 bytes)",
        ));
    }
    let auth = decode_key(&body.keys.auth, "keys.auth")?;
    if auth.len() != 16 {
        return Err(ApiError::invalid("keys.auth: must be 16 bytes"));
    }
    let now = state.now();
    let existing = state.store.push_subscriptions(&device.id).await?;
    let known = existing.iter().find(|s| s.endpoint == body.endpoint);
    if known.is_none() && existing.len() >= MAX_PER_DEVICE {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "too_many_subscriptions",
            format!("a device may hold {MAX_PER_DEVICE} push subscriptions; remove one first"),
        ));
    }
    let subscription = PushSubscription {
        endpoint: body.endpoint,
        device_id: device.id.clone(),
        p256dh,
        auth,
        created_at: known.map_or(now, |s| s.created_at),
        updated_at: now,
    };
    state.store.put_push_subscription(&subscription).await?;
    tracing::info!(device = %device.name, refreshed = known.is_some(), "push subscription registered");
    let status = if known.is_some() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        Json(SubscriptionView {
            endpoint: subscription.endpoint,
            device_id: subscription.device_id,
            created_at: subscription.created_at,
            updated_at: subscription.updated_at,
        }),
    ))
}

#[utoipa::path(delete, path = "/v1/push/subscriptions", tag = "push", request_body = EndpointBody,
    security(("device" = [])),
    responses((status = 204, description = "Removed"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn unsubscribe(
    State(state): State<AppState>,
    DeviceCaller(device): DeviceCaller,
    JsonBody(body): JsonBody<EndpointBody>,
) -> Result<StatusCode, ApiError> {
    if state
        .store
        .remove_push_subscription(&device.id, &body.endpoint)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("push subscription"))
    }
}

/// `https://` with a DNS host; `http://` only to loopback, and only when allowed.
fn check_endpoint(endpoint: &str, allow_insecure: bool) -> Result<(), ApiError> {
    let bad = |why: &str| ApiError::invalid(format!("endpoint: {why}"));
    if endpoint.len() > MAX_ENDPOINT {
        return Err(bad("too long"));
    }
    let url = reqwest::Url::parse(endpoint).map_err(|_| bad("not a URL"))?;
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err(bad("must not carry credentials or a fragment"));
    }
    let host = url.host_str().ok_or_else(|| bad("has no host"))?;
    let ip = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
        .ok();
    let loopback = ip.map_or(host.eq_ignore_ascii_case("localhost"), |ip| {
        ip.is_loopback()
    });
    match url.scheme() {
        "http" if loopback && allow_insecure => Ok(()),
        "http" if loopback => Err(bad(
            "http:// endpoints are refused unless push.allow_insecure_endpoints is set",
        )),
        "https" if ip.is_none() && !loopback => Ok(()),
        "https" => Err(bad("must name the push service by its domain name")),
        _ => Err(bad("must be an https:// URL")),
    }
}

/// base64url, with or without padding.
fn decode_key(text: &str, field: &str) -> Result<Vec<u8>, ApiError> {
    let text = text.trim();
    BASE64URL_NOPAD
        .decode(text.as_bytes())
        .or_else(|_| BASE64URL.decode(text.as_bytes()))
        .map_err(|_| ApiError::invalid(format!("{field}: not base64url")))
}

#[cfg(test)]
mod tests {
    use super::check_endpoint;

    #[test]
    fn endpoints_are_checked_strictly() {
        let ok = |e: &str, insecure| check_endpoint(e, insecure).is_ok();
        assert!(ok("https://fcm.googleapis.com/fcm/send/abc", false));
        assert!(ok("https://web.push.apple.com/QGx", false));
        assert!(!ok("http://fcm.googleapis.com/fcm/send/abc", true));
        assert!(!ok("http://127.0.0.1:9000/push/1", false));
        assert!(ok("http://127.0.0.1:9000/push/1", true));
        assert!(ok("http://localhost:9000/push/1", true));
        assert!(ok("http://[::1]:9000/push/1", true));
        assert!(!ok("http://10.0.0.1/push", true));
        assert!(!ok("https://10.0.0.1/push", false));
        assert!(!ok("https://user:pw@push.test/x", false));
        assert!(!ok("ftp://push.test/x", false));
        assert!(!ok("not a url", false));
        assert!(!ok(
            &format!("https://push.test/{}", "a".repeat(3000)),
            false
        ));
    }
}
