//! Serves the approver web app (`approver-web/`): embedded in release builds, read from
//! disk in debug builds, every response under a strict Content-Security-Policy.

use std::borrow::Cow;

use axum::Router;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use data_encoding::HEXLOWER;
use rust_embed::RustEmbed;

use crate::error::ApiError;

#[derive(RustEmbed)]
#[folder = "../approver-web/"]
#[exclude = "tools/*"]
struct Assets;

/// Only our own files, no inline script or style, no framing, no form posts: the page
/// that holds the device key and signs approvals runs nothing but this app.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; manifest-src 'self'; worker-src 'self'; \
    base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Powerful features the app never uses.
pub const PERMISSIONS_POLICY: &str = "accelerometer=(), camera=(), geolocation=(), \
    gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()";

/// The app's routes: `/` and one per file. Paths under `/v1/` are never shadowed, so
/// the API's JSON 404 still answers there.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut router = Router::new().route(
        "/",
        get(|headers: HeaderMap| async move { serve("index.html", &headers) }),
    );
    for path in Assets::iter() {
        let path: String = path.into_owned();
        let plain = path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/'));
        if !plain || path.starts_with("v1/") {
            continue;
        }
        let route = format!("/{path}");
        router = router.route(
            &route,
            get(move |headers: HeaderMap| {
                let path = path.clone();
                async move { serve(&path, &headers) }
            }),
        );
    }
    router
}

/// The headers every response of the app carries.
pub fn security_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static(PERMISSIONS_POLICY),
    );
    h.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("same-origin"),
    );
    h
}

fn serve(path: &str, request: &HeaderMap) -> Response {
    // In debug builds the file is read from disk now; it may have gone since start-up.
    let Some(file) = Assets::get(path) else {
        return ApiError::not_found("file").into_response();
    };
    let etag = format!("\"{}\"", HEXLOWER.encode(&file.metadata.sha256_hash()));
    let mut headers = security_headers();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type(path)));
    // Always revalidate: a new version of the app shows at once, unchanged files cost a 304.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(ETAG, value);
    }
    if matches_etag(request, &etag) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    let body = match file.data {
        Cow::Borrowed(bytes) => axum::body::Body::from(bytes),
        Cow::Owned(bytes) => axum::body::Body::from(bytes),
    };
    (StatusCode::OK, headers, body).into_response()
}

/// Whether `If-None-Match` names `etag` (weak or strong) or is `*`.
fn matches_etag(request: &HeaderMap, etag: &str) -> bool {
    request
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == etag || tag == "*")
}

fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map_or("", |(_, ext)| ext);
    match ext {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "webmanifest" => "application/manifest+json",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    async fn get(path: &str, headers: &[(&str, &str)]) -> Response {
        let mut req = Request::get(path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        routes::<()>()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    #[test]
    fn file_types_are_named() {
        assert_eq!(content_type("js/app.js"), "text/javascript; charset=utf-8");
        assert_eq!(
            content_type("manifest.webmanifest"),
            "application/manifest+json"
        );
        assert_eq!(content_type("icons/icon-192.png"), "image/png");
        assert_eq!(content_type("noext"), "application/octet-stream");
    }

    #[test]
    fn if_none_match_forms() {
        let mut h = HeaderMap::new();
        h.insert(IF_NONE_MATCH, HeaderValue::from_static("\"a\", W/\"b\""));
        assert!(matches_etag(&h, "\"b\""));
        assert!(matches_etag(&h, "\"a\""));
        assert!(!matches_etag(&h, "\"c\""));
        h.insert(IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(matches_etag(&h, "\"c\""));
        assert!(!matches_etag(&HeaderMap::new(), "\"c\""));
    }

    #[tokio::test]
    async fn every_file_is_served_with_the_security_headers() {
        let paths: Vec<String> = Assets::iter().map(|p| p.into_owned()).collect();
        assert!(paths.iter().any(|p| p == "index.html"), "{paths:?}");
        assert!(paths.iter().any(|p| p == "sw.js"), "{paths:?}");
        assert!(!paths.iter().any(|p| p.starts_with("tools/")), "{paths:?}");
        for path in paths.iter().map(|p| format!("/{p}")).chain(["/".into()]) {
            let res = get(&path, &[]).await;
            assert_eq!(res.status(), StatusCode::OK, "{path}");
            let h = res.headers();
            assert_eq!(h[CONTENT_SECURITY_POLICY], CSP, "{path}");
            assert_eq!(h[X_CONTENT_TYPE_OPTIONS], "nosniff");
            assert_eq!(h[REFERRER_POLICY], "no-referrer");
            assert_eq!(h["cross-origin-opener-policy"], "same-origin");
            assert_eq!(h["permissions-policy"], PERMISSIONS_POLICY);
            assert_eq!(h[CACHE_CONTROL], "no-cache");
            assert!(h.contains_key(ETAG));
        }
    }

    #[tokio::test]
    async fn an_unchanged_file_is_not_sent_again() {
        let first = get("/js/app.js", &[]).await;
        let etag = first.headers()[ETAG].to_str().unwrap().to_owned();
        let again = get("/js/app.js", &[("if-none-match", &etag)]).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(again.headers()[CONTENT_SECURITY_POLICY], CSP);
        let other = get("/js/app.js", &[("if-none-match", "\"other\"")]).await;
        assert_eq!(other.status(), StatusCode::OK);
    }
}
