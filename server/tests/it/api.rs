//! The request lifecycle end to end, in process, and every refusal an attacker would try.

use axum::http::{Method, StatusCode};
use countersign_core::container::{Container, ContainerLimits};
use countersign_core::sample::CountingNonces;
use countersign_core::validate::{Context, Limits, NoRevocations, ProofSet, Validator};
use countersign_core::{InvocationBuilder, Keypair, json};
use serde_json::{Value, json};

use crate::support::{NOW, TestApp, as_u64, key};

const REFUND: &str = "/payment/refund";

fn refund(amount: i64) -> Value {
    json!({
        "cmd": REFUND,
        "args": {"charge": "ch_1", "amount": amount, "currency": "usd"},
        "summary": format!("Refund {amount} cents on ch_1"),
        "reason": "customer asked",
        "diff": {"fields": [{"path": "charge.refunded", "before": 0, "after": amount}]},
        "lifetime": 120,
    })
}

/// A service with an agent (allowed /payment) and a paired device (allowed /payment).
async fn scene() -> (TestApp, Keypair, Keypair) {
    let app = TestApp::new().await;
    let agent = key(4);
    let device = key(2);
    app.add_agent("billing-bot", &agent, &["/payment"]).await;
    app.pair(&device, &["/payment"], json!([["<=", ".amount", 100000]]))
        .await;
    (app, agent, device)
}

async fn new_request(app: &TestApp, agent: &Keypair, amount: i64) -> (String, Value) {
    let (s, created) = app.request(agent, refund(amount)).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let view = app.view(agent, &id).await;
    (id, view)
}

/// Invokes with the issued chain and validates as a gateway would.
fn invoke_and_validate(
    app: &TestApp,
    agent: &Keypair,
    container: &str,
    args: Value,
) -> Result<(), String> {
    let chain = Container::parse(container.as_bytes(), &ContainerLimits::default()).unwrap();
    let proofs: Vec<_> = chain.tokens().to_vec();
    let cids = proofs
        .iter()
        .map(|t| countersign_core::Cid::dag_cbor(t))
        .collect();
    let gateway = key(5).did();
    let countersign_core::Value::Map(args): countersign_core::Value =
        json::from_json(&args).unwrap()
    else {
        panic!()
    };
    let now = as_u64(app.clock_now());
    let inv = InvocationBuilder::new(app.owner.did(), REFUND.parse().unwrap(), args)
        .audience(gateway)
        .proofs(cids)
        .expiration(Some(now + 60))
        .sign(agent, &mut CountingNonces::new(7));
    let ctx = Context {
        now,
        audience: Some(gateway),
        revocations: &NoRevocations,
    };
    Validator::new(Limits::default(), 0)
        .validate(&inv.bytes, &ProofSet::new(proofs), &ctx)
        .map(|_| ())
        .map_err(|e| format!("{}: {e}", e.kind()))
}

#[tokio::test]
async fn an_approved_request_yields_a_chain_that_validates() {
    let (app, agent, device) = scene().await;
    let (id, view) = new_request(&app, &agent, 4900).await;
    assert_eq!(view["state"], "pending");
    assert!(
        view["code"].as_str().unwrap().len() == 2,
        "the requester sees its matching code"
    );

    // The device sees the request without the matching code.
    let seen = app.view(&device, &id).await;
    assert!(seen.get("code").is_none());
    assert_eq!(seen["args"]["amount"], 4900);

    let (s, decided) = app
        .approve(
            &device,
            &id,
            app.approval_for(&device, &seen, json!([]), 120),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{decided}");
    assert_eq!(decided["state"], "approved");
    assert!(
        decided.get("container").is_none(),
        "only the requester receives the chain"
    );

    let (s, waited) = app
        .call(
            Method::GET,
            &format!("/v1/requests/{id}/wait?timeout=1"),
            Some(&agent),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(waited["state"], "approved");
    assert_eq!(waited["decided_by"], device.did().to_string());
    let container = waited["container"].as_str().unwrap();
    let refund = json!({"charge": "ch_1", "amount": 4900, "currency": "usd"});
    invoke_and_validate(&app, &agent, container, refund).unwrap();
    // What runs is what was approved.
    let more = json!({"charge": "ch_1", "amount": 99999, "currency": "usd"});
    let err = invoke_and_validate(&app, &agent, container, more).unwrap_err();
    assert!(err.starts_with("MatchError"), "{err}");
}

#[tokio::test]
async fn a_long_poll_wakes_when_the_request_is_approved() {
    let (app, agent, device) = scene().await;
    let (id, view) = new_request(&app, &agent, 100).await;
    let token = app.jwt(&agent);
    let router = app.router.clone();
    let path = format!("/v1/requests/{id}/wait?timeout=30");
    let waiter = tokio::spawn(async move {
        use tower::ServiceExt;
        let req = axum::http::Request::builder()
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .body(axum::body::Body::empty())
            .unwrap();
        let resp = router.oneshot(req).await.unwrap();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        serde_json::from_slice::<Value>(&bytes).unwrap()
    });
    // Let the waiter subscribe; the result does not depend on whether it has yet.
    tokio::task::yield_now().await;
    let (s, _) = app
        .approve(
            &device,
            &id,
            app.approval_for(&device, &view, json!([]), 60),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let woke = tokio::time::timeout(std::time::Duration::from_secs(10), waiter)
        .await
        .expect("the waiter answered well before its 30 s timeout")
        .unwrap();
    assert_eq!(woke["state"], "approved");
    assert!(woke["container"].is_string());
}

#[tokio::test]
async fn a_denial_reaches_the_agent_with_its_reason() {
    let (app, agent, device) = scene().await;
    let (id, _) = new_request(&app, &agent, 100).await;
    let (s, v) = app.deny(&device, &id, &id, "not this customer").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let seen = app.view(&agent, &id).await;
    assert_eq!(
        (seen["state"].as_str(), seen["denial_reason"].as_str()),
        (Some("denied"), Some("not this customer"))
    );
    assert!(seen.get("container").is_none());
}

#[tokio::test]
async fn a_denial_statement_for_another_request_is_refused() {
    let (app, agent, device) = scene().await;
    let (id, _) = new_request(&app, &agent, 100).await;
    let (s, v) = app.deny(&device, &id, "req_other", "no").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_statement"))
    );
}

#[tokio::test]
async fn an_agent_cannot_approve_its_own_request() {
    let (app, agent, _) = scene().await;
    let (id, view) = new_request(&app, &agent, 100).await;
    let forged = app.approval_for(&agent, &view, json!([]), 60);
    let (s, v) = app.approve(&agent, &id, forged).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(app.view(&agent, &id).await["state"], "pending");
}

#[tokio::test]
async fn unregistered_and_disallowed_agents_are_refused() {
    let (app, _, _) = scene().await;
    let stranger = key(7);
    let (s, v) = app.request(&stranger, refund(100)).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let mailer = key(8);
    app.add_agent("mailer", &mailer, &["/email/send"]).await;
    let (s, v) = app.request(&mailer, refund(100)).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("may not request")
    );
}

#[tokio::test]
async fn approvals_wider_than_the_request_are_refused() {
    let (app, agent, device) = scene().await;
    let (id, view) = new_request(&app, &agent, 100).await;
    // Dropping a requested statement widens the policy.
    let mut fewer = view.clone();
    fewer["policy"].as_array_mut().unwrap().pop();
    let cases = [
        (
            "policy_wider",
            app.approval_for(&device, &fewer, json!([]), 60),
        ),
        (
            "lifetime_wider",
            app.approval_for(&device, &view, json!([]), 3600),
        ),
        (
            "command_wider",
            app.sign_approval(
                &device,
                "/payment".parse().unwrap(),
                crate::support::policy_of(&view["policy"]),
                60,
            ),
        ),
    ];
    for (code, delegation) in cases {
        let (s, v) = app.approve(&device, &id, delegation).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(code)),
            "{v}"
        );
    }
    // A narrower approval is fine, and the issued capability carries the extra statement.
    let narrower = app.approval_for(&device, &view, json!([["==", ".currency", "usd"]]), 30);
    let (s, v) = app.approve(&device, &id, narrower).await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

#[tokio::test]
async fn the_standing_delegation_bounds_what_a_device_may_approve() {
    let (app, agent, device) = scene().await;
    // The device's standing policy allows at most 100000.
    let (id, view) = new_request(&app, &agent, 150_000).await;
    let (s, v) = app
        .approve(
            &device,
            &id,
            app.approval_for(&device, &view, json!([]), 60),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("standing_policy")),
        "{v}"
    );

    // A device paired only for /email cannot approve a payment.
    let mail_phone = key(6);
    app.pair(&mail_phone, &["/email"], json!([])).await;
    let (id, view) = new_request(&app, &agent, 10).await;
    let (s, v) = app
        .approve(
            &mail_phone,
            &id,
            app.approval_for(&mail_phone, &view, json!([]), 60),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("not_covered")),
        "{v}"
    );
}

#[tokio::test]
async fn a_tampered_or_misattributed_approval_is_refused() {
    let (app, agent, device) = scene().await;
    let (id, view) = new_request(&app, &agent, 100).await;
    let good = app.approval_for(&device, &view, json!([]), 60);
    let mut bytes = data_encoding::BASE64.decode(good.as_bytes()).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let tampered = data_encoding::BASE64.encode(&bytes);
    let (s, v) = app.approve(&device, &id, tampered).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_approval")),
        "{v}"
    );

    // Signed by another paired device, submitted by this one.
    let other = key(3);
    app.pair(&other, &["/payment"], json!([])).await;
    let theirs = app.approval_for(&other, &view, json!([]), 60);
    let (s, v) = app.approve(&device, &id, theirs).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("wrong_issuer")),
        "{v}"
    );
}

#[tokio::test]
async fn a_removed_device_can_no_longer_approve() {
    let app = TestApp::new().await;
    let (agent, device) = (key(4), key(2));
    app.add_agent("bot", &agent, &["/payment"]).await;
    let device_id = app.pair(&device, &["/payment"], json!([])).await;
    let (id, view) = new_request(&app, &agent, 100).await;
    let approval = app.approval_for(&device, &view, json!([]), 60);
    let (s, removed) = app
        .call(
            Method::DELETE,
            &format!("/v1/devices/{device_id}"),
            Some(&app.owner),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{removed}");
    assert!(removed["removed_at"].is_number());
    let (s, v) = app.approve(&device, &id, approval).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("not_paired")),
        "{v}"
    );
}

#[tokio::test]
async fn an_expired_request_cannot_be_approved() {
    let (app, agent, device) = scene().await;
    let (id, view) = new_request(&app, &agent, 100).await;
    let approval = app.approval_for(&device, &view, json!([]), 60);
    app.clock.advance(301);
    let (s, v) = app.approve(&device, &id, approval).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("request_expired")),
        "{v}"
    );
    assert_eq!(app.view(&agent, &id).await["state"], "expired");
}

#[tokio::test]
async fn racing_approvals_yield_exactly_one_issuance() {
    let (app, agent, device) = scene().await;
    let other = key(3);
    app.pair(&other, &["/payment"], json!([])).await;
    let (id, view) = new_request(&app, &agent, 100).await;
    let mut tasks = Vec::new();
    for (i, who) in [&device, &other, &device, &other, &device, &other]
        .into_iter()
        .enumerate()
    {
        let approval = app.approval_for(who, &view, json!([]), 60 + i as u64);
        let token = app.jwt(who);
        let router = app.router.clone();
        let path = format!("/v1/requests/{id}/approve");
        tasks.push(tokio::spawn(async move {
            use tower::ServiceExt;
            let req = axum::http::Request::builder()
                .method("POST")
                .uri(path)
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(axum::body::Body::from(
                    json!({"delegation": approval}).to_string(),
                ))
                .unwrap();
            router.oneshot(req).await.unwrap().status()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(ok, 1, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::CONFLICT),
        "{statuses:?}"
    );
    let seen = app.view(&agent, &id).await;
    let chain = Container::parse(
        seen["container"].as_str().unwrap().as_bytes(),
        &ContainerLimits::default(),
    )
    .unwrap();
    assert_eq!(chain.len(), 3);
}

#[tokio::test]
async fn a_replayed_token_is_refused() {
    let (app, agent, _) = scene().await;
    let token = app.jwt(&agent);
    let (s, _) = app
        .call_with(
            Method::POST,
            "/v1/requests",
            Some(token.clone()),
            Some(refund(100)),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, v) = app
        .call_with(Method::POST, "/v1/requests", Some(token), Some(refund(100)))
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already used"),
        "{v}"
    );
}

#[tokio::test]
async fn tokens_for_another_service_or_too_long_lived_are_refused() {
    let (app, agent, _) = scene().await;
    let elsewhere =
        countersign_server::auth::jwt::issue(&agent, &key(11).did(), NOW, 60, "x1".into()).unwrap();
    let long =
        countersign_server::auth::jwt::issue(&agent, &app.service, NOW, 3600, "x2".into()).unwrap();
    for token in [elsewhere, long, "garbage".to_owned()] {
        let (s, v) = app
            .call_with(Method::POST, "/v1/requests", Some(token), Some(refund(1)))
            .await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("unauthorized")),
            "{v}"
        );
    }
    let (s, _) = app
        .call_with(Method::POST, "/v1/requests", None, Some(refund(1)))
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn other_agents_cannot_see_or_withdraw_a_request() {
    let (app, agent, _) = scene().await;
    let nosy = key(12);
    app.add_agent("nosy", &nosy, &["/payment"]).await;
    let (id, _) = new_request(&app, &agent, 100).await;
    let (s, _) = app
        .call(
            Method::GET,
            &format!("/v1/requests/{id}"),
            Some(&nosy),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .call(
            Method::POST,
            &format!("/v1/requests/{id}/withdraw"),
            Some(&nosy),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = app
        .call(
            Method::POST,
            &format!("/v1/requests/{id}/withdraw"),
            Some(&agent),
            None,
        )
        .await;
    assert_eq!(
        (s, v["state"].as_str()),
        (StatusCode::OK, Some("withdrawn"))
    );
}

#[tokio::test]
async fn bad_input_gets_the_error_shape_never_a_500() {
    let (app, agent, _) = scene().await;
    let cases = [
        json!({"cmd": "no-slash", "args": {}, "summary": "x"}),
        json!({"cmd": REFUND, "summary": "x"}),
        json!({"cmd": REFUND, "args": [1], "summary": "x"}),
        json!({"cmd": REFUND, "args": {"a": 1}, "summary": ""}),
        json!({"cmd": REFUND, "args": {"a": 1}, "summary": "two\nlines"}),
        json!({"cmd": REFUND, "args": {"a": 1}, "summary": "x", "lifetime": 999999}),
        json!({"cmd": REFUND, "args": {"a": 1}, "summary": "x", "policy": [["~", ".a", 1]]}),
        json!({"cmd": REFUND, "args": {"a": 1}, "summary": "x", "policy": [["==", ".a", 2]]}),
        json!({"cmd": REFUND, "args": {"a": 1}, "summary": "x", "unknown": true}),
    ];
    for body in cases {
        let (s, v) = app.request(&agent, body.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body} → {v}");
        assert_eq!(v["error"]["code"], "invalid_request", "{body} → {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    let (s, v) = app.call(Method::GET, "/v1/nope", None, None).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (s, v) = app
        .call(
            Method::GET,
            "/v1/requests?state=sideways",
            Some(&app.owner),
            None,
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request")),
        "{v}"
    );
}

#[tokio::test]
async fn pairing_codes_are_single_use_and_exact() {
    let app = TestApp::new().await;
    let (s, created) = app
        .call(
            Method::POST,
            "/v1/pairings",
            Some(&app.owner),
            Some(json!({})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let code = created["code"].as_str().unwrap();
    let wrong = json!({"code": "AAAAA-AAAAA", "name": "x"});
    let (s, v) = app
        .call(
            Method::POST,
            "/v1/pairings/claim",
            Some(&key(2)),
            Some(wrong),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("pairing_unavailable"))
    );
    let right = json!({"code": code, "name": "x"});
    let (s, _) = app
        .call(
            Method::POST,
            "/v1/pairings/claim",
            Some(&key(2)),
            Some(right.clone()),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app
        .call(
            Method::POST,
            "/v1/pairings/claim",
            Some(&key(3)),
            Some(right),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "a code pairs one device");
    // Only the owner may open a pairing.
    let (s, _) = app
        .call(Method::POST, "/v1/pairings", Some(&key(2)), Some(json!({})))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_chain_survives_a_restart_and_is_issued_once() {
    let (app, agent, device) = scene().await;
    let (id, view) = new_request(&app, &agent, 100).await;
    let (s, _) = app
        .approve(
            &device,
            &id,
            app.approval_for(&device, &view, json!([]), 60),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let before = app.view(&agent, &id).await["container"].clone();
    let app = app.restart().await;
    let after = app.view(&agent, &id).await;
    assert_eq!(after["container"], before);
    assert_eq!(after["state"], "approved");
    // A second approval after the restart changes nothing.
    let (s, _) = app
        .approve(
            &device,
            &id,
            app.approval_for(&device, &view, json!([]), 60),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(app.view(&agent, &id).await["container"], before);
}

#[test]
fn exact_policy_binds_every_field() {
    let args: countersign_core::Value =
        json::from_json(&json!({"to": "a@b", "odd key": 1})).unwrap();
    let countersign_core::Value::Map(map) = &args else {
        panic!()
    };
    let policy = countersign_server::approval::exact_policy(map);
    assert_eq!(
        json::to_json(&policy.to_value()),
        json!([["==", ".to", "a@b"], ["==", ".[\"odd key\"]", 1]])
    );
}

#[tokio::test]
async fn the_event_stream_reports_pending_then_the_decision_and_ends() {
    use futures_util::StreamExt;
    use tower::ServiceExt;
    let (app, agent, device) = scene().await;
    let (id, view) = new_request(&app, &agent, 100).await;
    let req = axum::http::Request::builder()
        .uri(format!("/v1/requests/{id}/events"))
        .header("authorization", format!("Bearer {}", app.jwt(&agent)))
        .body(axum::body::Body::empty())
        .unwrap();
    let resp = app.router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut stream = resp.into_body().into_data_stream();
    let mut text = String::new();
    let mut approved = false;
    let deadline = std::time::Duration::from_secs(10);
    // Read until the stream ends; approve once the first (pending) event has arrived.
    while let Ok(Some(chunk)) = tokio::time::timeout(deadline, stream.next()).await {
        text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        if !approved && text.contains("\"state\":\"pending\"") {
            approved = true;
            let (s, _) = app
                .approve(
                    &device,
                    &id,
                    app.approval_for(&device, &view, json!([]), 60),
                )
                .await;
            assert_eq!(s, StatusCode::OK);
        }
    }
    let events: Vec<Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let states: Vec<&str> = events
        .iter()
        .map(|e| e["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["pending", "approved"], "{text}");
    assert!(events[1]["container"].is_string());
}

#[tokio::test]
async fn a_pairing_lapses_unless_confirmed_in_time() {
    let app = TestApp::new().await;
    let body = json!({"name": "Ana's phone"});
    let (s, created) = app
        .call(Method::POST, "/v1/pairings", Some(&app.owner), Some(body))
        .await;
    assert_eq!(
        s,
        StatusCode::CREATED,
        "a device name is free text: {created}"
    );
    let id = created["id"].as_str().unwrap().to_owned();
    let claim = json!({"code": created["code"], "name": "phone"});
    let (s, claimed) = app
        .call(
            Method::POST,
            "/v1/pairings/claim",
            Some(&key(2)),
            Some(claim),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let confirm_by = claimed["confirm_by"].as_i64().unwrap();
    app.clock.advance(confirm_by - app.clock_now());
    let (_, view) = app
        .call(
            Method::GET,
            &format!("/v1/pairings/{id}"),
            Some(&app.owner),
            None,
        )
        .await;
    assert_eq!(view["state"], "expired");
    let (s, v) = app
        .call(
            Method::POST,
            &format!("/v1/pairings/{id}/confirm"),
            Some(&app.owner),
            Some(json!({"delegations": ["x"]})),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("pairing_unavailable")),
        "{v}"
    );
}
