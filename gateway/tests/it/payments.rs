//! Payments through a recording upstream: the request exactly as configured, sent once.

use countersign_core::Signed;
use countersign_core::delegation::Delegation;
use countersign_core::invocation::Invocation;
use futures_util::future::join_all;

use crate::support::chain::{Call, Keys, NOW, approved, args, container, keys};
use crate::support::gateway::{STRIPE_KEY, Setup, TestGateway, assert_refused};
use crate::support::logs;
use crate::support::service::FakeService;
use crate::support::upstream::Upstream;

pub const REFUND_POLICY: &str = r#"[["==", ".charge", "ch_1"], ["<=", ".amount", 4900]]"#;
pub const REFUND_ARGS: &str = r#"{"charge": "ch_1", "amount": 4900}"#;

/// The payment routes, against `upstream`.
pub fn routes(upstream: &str) -> String {
    format!(
        r#"
        [[routes]]
        command = "/payment/refund"
        [routes.http]
        method = "POST"
        url = "{upstream}/v1/refunds"
        body = "form"
        fields = {{ charge = ".charge", amount = ".amount" }}
        auth = {{ bearer = {{ file = "stripe-key" }} }}

        [[routes]]
        command = "/payment/intent/create"
        quorum = 2
        [routes.http]
        method = "POST"
        url = "{upstream}/v1/payment_intents"
        body = "form"
        fields = {{ amount = ".amount", currency = ".currency", customer = ".customer" }}
        auth = {{ bearer = {{ file = "stripe-key" }} }}

        [[routes]]
        command = "/payment/charge/get"
        [routes.http]
        method = "GET"
        url = "{upstream}/v1/charges/{{charge}}"
        query = {{ expand = {{ value = "balance_transaction" }} }}
        auth = {{ basic = {{ username = "api", password = {{ file = "stripe-key" }} }} }}
        max_response_bytes = 64

        [[routes]]
        command = "/payment/void"
        [routes.http]
        method = "POST"
        url = "http://127.0.0.1:1/v1/voids"
        "#
    )
}

/// A fake service, a recording upstream and a gateway in front of it.
#[derive(Debug)]
pub struct World {
    pub keys: Keys,
    pub gw: TestGateway,
    pub setup: Setup,
    pub upstream: Upstream,
    pub service: FakeService,
}

pub async fn world() -> World {
    world_at(NOW).await
}

/// The world with the gateway's clock at `now`.
pub async fn world_at(now: u64) -> World {
    let keys = keys();
    let service = FakeService::start(keys.service.did()).await;
    let upstream = Upstream::start().await;
    let mut setup = Setup::new(&service, &routes(&upstream.url));
    setup.now = now;
    let gw = TestGateway::start(&setup).await;
    World {
        keys,
        gw,
        setup,
        upstream,
        service,
    }
}

/// An approved refund and the agent's invocation of it.
pub fn refund(keys: &Keys, args_json: &str) -> (Signed<Invocation>, Vec<Signed<Delegation>>) {
    let proofs = approved(keys, "/payment/refund", REFUND_POLICY, None);
    let inv = Call::new(keys, "/payment/refund", args(args_json)).sign(&proofs);
    (inv, proofs)
}

#[tokio::test]
async fn a_refund_reaches_the_upstream_exactly_as_configured() {
    let w = world().await;
    let (inv, proofs) = refund(&w.keys, REFUND_ARGS);
    let (status, body) = w.gw.invoke(&container(&inv, &proofs)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ok"], true);
    assert_eq!(body["invocation"], inv.cid.to_string());
    assert_eq!(body["route"], "/payment/refund");
    assert_eq!(body["upstream"]["status"], 200);
    assert_eq!(body["upstream"]["body"]["id"], "re_1");

    let requests = w.upstream.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/v1/refunds")
    );
    assert_eq!(r.body_text(), "amount=4900&charge=ch_1");
    assert_eq!(
        r.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {STRIPE_KEY}").as_str())
    );
    assert_eq!(
        r.header("idempotency-key"),
        Some(inv.cid.to_string().as_str())
    );

    w.service.wait_receipts(1).await;
    let receipt = &w.service.receipts(&w.keys.gateway.did())[0];
    assert_eq!(receipt.iss, w.keys.gateway.did().to_string());
    assert_eq!(receipt.aud, w.keys.service.did().to_string());
    assert_eq!(receipt.invocation, inv.cid.to_string());
    assert_eq!(receipt.route, "/payment/refund");
    assert_eq!((receipt.outcome.as_str(), receipt.status), ("ok", 200));
    assert_eq!(
        (receipt.at, receipt.iat, receipt.exp),
        (NOW as i64, NOW as i64, NOW as i64 + 300)
    );
    assert_eq!(receipt.error, None);
    assert!(!body.to_string().contains(STRIPE_KEY));
    assert!(!logs::text().contains(STRIPE_KEY));
}

#[tokio::test]
async fn a_replayed_invocation_does_not_charge_twice() {
    let w = world().await;
    let (inv, proofs) = refund(&w.keys, REFUND_ARGS);
    let text = container(&inv, &proofs);
    assert_eq!(w.gw.invoke(&text).await.0, 200);
    let again = w.gw.invoke(&text).await;
    assert_refused(&again, 409, "Replayed");
    assert_eq!(w.upstream.count(), 1);

    // Sent many times at once, a fresh invocation still runs once.
    let (inv, proofs) = refund(&w.keys, REFUND_ARGS);
    let text = container(&inv, &proofs);
    let answers = join_all((0..8).map(|_| w.gw.invoke(&text))).await;
    let ok = answers.iter().filter(|a| a.0 == 200).count();
    let replayed = answers
        .iter()
        .filter(|a| a.1["error"]["kind"] == "Replayed")
        .count();
    assert_eq!((ok, replayed), (1, 7), "{answers:?}");
    assert_eq!(w.upstream.count(), 2);
}

#[tokio::test]
async fn an_upstream_error_is_answered_and_reported() {
    let w = world().await;
    w.upstream.answer(
        402,
        "application/json",
        r#"{"error": {"code": "charge_already_refunded"}}"#,
    );
    let (inv, proofs) = refund(&w.keys, REFUND_ARGS);
    let (status, body) = w.gw.invoke(&container(&inv, &proofs)).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["ok"], false);
    assert_eq!(body["upstream"]["status"], 402);
    assert_eq!(
        body["upstream"]["body"]["error"]["code"],
        "charge_already_refunded"
    );
    w.service.wait_receipts(1).await;
    let receipt = &w.service.receipts(&w.keys.gateway.did())[0];
    assert_eq!(
        (receipt.outcome.as_str(), receipt.status),
        ("upstream_error", 402)
    );
}

#[tokio::test]
async fn urls_are_filled_from_args_and_answers_are_capped() {
    let w = world().await;
    w.upstream.answer(200, "text/plain", &"x".repeat(200));
    let policy = r#"[["==", ".charge", "ch_1/../admin"]]"#;
    let proofs = approved(&w.keys, "/payment/charge/get", policy, None);
    let call = Call::new(
        &w.keys,
        "/payment/charge/get",
        args(r#"{"charge": "ch_1/../admin"}"#),
    );
    let inv = call.sign(&proofs);
    let (status, body) = w.gw.invoke(&container(&inv, &proofs)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["upstream"]["truncated"], true);
    assert_eq!(body["upstream"]["body"], "x".repeat(64));
    let r = &w.upstream.requests()[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("GET", "/v1/charges/ch_1%2F..%2Fadmin")
    );
    assert_eq!(r.query.as_deref(), Some("expand=balance_transaction"));
    let basic = data_encoding::BASE64.encode(format!("api:{STRIPE_KEY}").as_bytes());
    assert_eq!(
        r.header("authorization"),
        Some(format!("Basic {basic}").as_str())
    );
    assert!(r.body.is_empty());
}

#[tokio::test]
async fn an_unreachable_upstream_is_a_bad_gateway() {
    let w = world().await;
    let proofs = approved(&w.keys, "/payment/void", "[]", None);
    let inv = Call::new(&w.keys, "/payment/void", args("{}")).sign(&proofs);
    let answer = w.gw.invoke(&container(&inv, &proofs)).await;
    assert_refused(&answer, 502, "UpstreamUnavailable");
    assert_eq!(answer.1["ok"], false);
    w.service.wait_receipts(1).await;
    let receipt = &w.service.receipts(&w.keys.gateway.did())[0];
    assert_eq!(
        (receipt.outcome.as_str(), receipt.status),
        ("upstream_error", 0)
    );
}
