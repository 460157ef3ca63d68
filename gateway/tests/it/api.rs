//! The HTTP API around the checks: what the gateway says about itself, its health, and
//! how it reads (or refuses) request bodies.

use crate::payments::{REFUND_ARGS, refund, world};
use crate::support::chain::container;
use crate::support::gateway::assert_refused;

#[tokio::test]
async fn the_gateway_names_its_did_and_routes() {
    let w = world().await;
    let (status, body) = w.gw.get("/v1/gateway").await;
    assert_eq!(status, 200);
    assert_eq!(body["did"], w.keys.gateway.did().to_string());
    assert_eq!(body["owners"][0], w.keys.owner.did().to_string());
    let commands: Vec<&str> = body["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["command"].as_str().unwrap())
        .collect();
    assert_eq!(
        commands,
        [
            "/payment/charge/get",
            "/payment/intent/create",
            "/payment/refund",
            "/payment/void"
        ]
    );
    assert_eq!(body["routes"][1]["quorum"], 2);
    assert_eq!(
        body["routes"][2]["args"],
        serde_json::json!(["amount", "charge"])
    );
    assert!(!body.to_string().contains("sk_test"));
}

#[tokio::test]
async fn health_follows_the_revocation_view() {
    let w = world().await;
    let (status, body) = w.gw.get("/healthz").await;
    assert_eq!(
        (status, &body["ok"]),
        (200, &serde_json::json!(true)),
        "{body}"
    );
    w.gw.clock.advance(31);
    let (status, body) = w.gw.get("/healthz").await;
    assert_eq!(status, 503);
    assert_eq!(body["revocations"]["stale"], true);
}

#[tokio::test]
async fn a_json_body_carries_the_container() {
    let w = world().await;
    let (inv, proofs) = refund(&w.keys, REFUND_ARGS);
    let body = serde_json::json!({"container": container(&inv, &proofs)}).to_string();
    let (status, answer) = w.gw.post("/v1/invoke", "application/json", body).await;
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test]
async fn unreadable_bodies_are_refused_precisely() {
    let w = world().await;
    let text = |s: &str| s.to_owned();
    let answer = w.gw.post("/v1/invoke", "text/plain", text("hello")).await;
    assert_refused(&answer, 400, "MalformedToken");
    let answer =
        w.gw.post("/v1/invoke", "application/json", text("{\"c\": 1}"))
            .await;
    assert_refused(&answer, 400, "BadRequest");
    let answer =
        w.gw.post("/v1/invoke", "text/plain", "B".repeat(2 * 1024 * 1024))
            .await;
    assert_refused(&answer, 400, "LimitExceeded");
    let answer = w.gw.get("/v1/nothing").await;
    assert_refused(&answer, 404, "NotFound");
    assert_eq!(w.upstream.count(), 0);
}

#[tokio::test]
async fn metrics_count_executions_and_refusals_by_kind() {
    let w = world().await;
    let (inv, proofs) = refund(&w.keys, REFUND_ARGS);
    let c = container(&inv, &proofs);
    assert_eq!(w.gw.invoke(&c).await.0, 200);
    let (status, _) = w.gw.invoke(&c).await;
    assert_eq!(status, 409, "the replay is refused");
    w.gw.post("/v1/invoke", "text/plain", "hello".to_owned())
        .await;
    let (status, text) = w.gw.get_text("/metrics").await;
    assert_eq!(status, 200);
    for line in [
        "countersign_gateway_invocations_total{outcome=\"ok\"} 1",
        "countersign_gateway_refusals_total{kind=\"Replayed\"} 1",
        "countersign_gateway_refusals_total{kind=\"MalformedToken\"} 1",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
}
