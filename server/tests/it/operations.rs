//! What operators and orchestrators look at: liveness, readiness, metrics.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;
use tower::ServiceExt;

use crate::support::{TestApp, key, listener};

async fn text(app: &TestApp, path: &str) -> (StatusCode, String) {
    let resp = app
        .router
        .clone()
        .oneshot(Request::builder().uri(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::test]
async fn health_and_readiness_answer_and_readiness_drops_on_shutdown() {
    let app = TestApp::new().await;
    assert_eq!(text(&app, "/healthz").await.0, StatusCode::OK);
    assert_eq!(text(&app, "/readyz").await.0, StatusCode::OK);
    app.state.begin_shutdown();
    let (status, body) = text(&app, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(text(&app, "/healthz").await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_long_poll_is_released_at_shutdown() {
    let app = TestApp::new().await;
    let agent = key(4);
    app.add_agent("bot", &agent, &["/payment"]).await;
    let (_, created) = app
        .request(
            &agent,
            json!({"cmd": "/payment/x", "args": {"a": 1}, "summary": "s"}),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let token = app.jwt(&agent);
    let router = app.router.clone();
    let waiter = tokio::spawn(async move {
        let req = Request::builder()
            .uri(format!("/v1/requests/{id}/wait?timeout=60"))
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        router.oneshot(req).await.unwrap().status()
    });
    tokio::task::yield_now().await;
    app.state.begin_shutdown();
    let status = tokio::time::timeout(std::time::Duration::from_secs(10), waiter)
        .await
        .expect("released long before its 60 s timeout")
        .unwrap();
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn metrics_count_requests_decisions_and_issuance() {
    let app = TestApp::new().await;
    let (agent, device) = (key(4), key(2));
    app.add_agent("bot", &agent, &["/payment"]).await;
    app.pair(&device, &["/payment"], json!([])).await;
    let (_, created) = app
        .request(
            &agent,
            json!({"cmd": "/payment/x", "args": {"a": 1}, "summary": "s"}),
        )
        .await;
    let id = created["id"].as_str().unwrap();
    app.request(
        &agent,
        json!({"cmd": "/payment/x", "args": {"a": 2}, "summary": "t"}),
    )
    .await;
    let view = app.view(&device, id).await;
    let (s, _) = app
        .approve(&device, id, app.approval_for(&device, &view, json!([]), 60))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (status, body) = text(&app, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    for line in [
        "countersign_requests_total{outcome=\"created\"} 2",
        "countersign_decisions_total{state=\"approved\"} 1",
        "countersign_issued_total 1",
        "countersign_pending_requests 1",
        "countersign_time_to_decision_seconds_count 1",
    ] {
        assert!(
            body.lines().any(|l| l == line),
            "missing {line:?} in\n{body}"
        );
    }
}

#[tokio::test]
async fn a_client_that_sends_its_headers_too_slowly_is_cut_off() {
    let app =
        TestApp::with_config(|c| c.limits.header_timeout = countersign_server::duration::Secs(1))
            .await;
    let served = app.serve().await;
    listener::assert_stalled_heads_are_cut(served.addr, b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
        .await;
    served.stop().await;
}
