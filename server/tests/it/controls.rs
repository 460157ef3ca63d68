//! Control after the fact: revocation and its feed, the kill switch, the audit log and
//! its tamper evidence, auto-approval, quorum, and the flood defences.

use axum::http::{Method, StatusCode};
use countersign_core::container::{Container, ContainerLimits};
use countersign_core::revocation::Revocation;
use countersign_core::sample::CountingNonces;
use countersign_core::validate::{Limits, TokenRef, Validator};
use countersign_core::{Cid, DelegationBuilder, Keypair};
use countersign_server::audit::{verify_export, write_export};
use data_encoding::BASE64;
use serde_json::{Value, json};

use crate::support::{TestApp, as_u64, key, policy_of};

fn refund(amount: i64) -> Value {
    json!({"cmd": "/payment/refund", "args": {"charge": "ch_1", "amount": amount}, "summary": format!("Refund {amount}")})
}

async fn scene() -> (TestApp, Keypair, Keypair) {
    let app = TestApp::new().await;
    let (agent, device) = (key(4), key(2));
    app.add_agent("billing-bot", &agent, &["/payment"]).await;
    app.pair(&device, &["/payment"], json!([])).await;
    (app, agent, device)
}

/// Creates and approves a request; returns its id and the issued token's CID.
async fn issued(app: &TestApp, agent: &Keypair, device: &Keypair, amount: i64) -> (String, String) {
    let (s, created) = app.request(agent, refund(amount)).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let view = app.view(device, &id).await;
    let (s, v) = app
        .approve(device, &id, app.approval_for(device, &view, json!([]), 120))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let container = app.view(agent, &id).await["container"]
        .as_str()
        .unwrap()
        .to_owned();
    let chain = Container::parse(container.as_bytes(), &ContainerLimits::default()).unwrap();
    let last = chain.tokens().iter().find(|t| {
        Validator::new(Limits::default(), 0)
            .open_delegation(&TokenRef::Proof(0, Cid::dag_cbor(t)), t)
            .is_ok_and(|d| d.audience == agent.did())
    });
    (id, Cid::dag_cbor(last.unwrap()).to_string())
}

async fn revoke_as(app: &TestApp, revoker: &Keypair, cid: &str) -> (StatusCode, Value) {
    let record = Revocation::sign(revoker, cid.parse().unwrap()).to_json();
    app.call(
        Method::POST,
        "/v1/revocations",
        None,
        Some(json!({"record": record, "reason": "test"})),
    )
    .await
}

async fn feed(app: &TestApp, after: i64) -> Vec<Value> {
    let (s, v) = app
        .call(
            Method::GET,
            &format!("/v1/revocations?after={after}"),
            None,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    v["revocations"].as_array().unwrap().clone()
}

#[tokio::test]
async fn the_owner_and_chain_issuers_may_revoke_outsiders_may_not() {
    let (app, agent, device) = scene().await;
    let (_, token) = issued(&app, &agent, &device, 100).await;
    let (s, v) = revoke_as(&app, &key(30), &token).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, v) = revoke_as(&app, &agent, &token).await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "the holder is not an issuer in the chain: {v}"
    );
    assert!(
        feed(&app, 0)
            .await
            .iter()
            .all(|r| r["cid"] != token.as_str())
    );
    // The approving device issued into the chain: it may revoke.
    let (s, v) = revoke_as(&app, &device, &token).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let cursor = v["cursor"].as_i64().unwrap();
    let (s, v) = revoke_as(&app, &app.owner, &token).await;
    assert_eq!(
        (s, v["cursor"].clone()),
        (StatusCode::OK, Value::Null),
        "already revoked"
    );
    let items = feed(&app, 0).await;
    assert!(
        items
            .iter()
            .any(|r| r["cid"] == token.as_str() && r["cursor"] == cursor)
    );
    assert!(feed(&app, cursor).await.is_empty());
    // A tampered record is refused.
    let mut record = Revocation::sign(&app.owner, token.parse().unwrap()).to_json();
    record.rvk = Cid::dag_cbor(b"other").to_string();
    let (s, v) = app
        .call(
            Method::POST,
            "/v1/revocations",
            None,
            Some(json!({"record": record})),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_revocation"))
    );
}

#[tokio::test]
async fn a_revocation_reaches_a_connected_stream_at_once() {
    use futures_util::StreamExt;
    use tower::ServiceExt;
    let (app, agent, device) = scene().await;
    let (_, token) = issued(&app, &agent, &device, 100).await;
    let req = axum::http::Request::builder()
        .uri("/v1/revocations/events?after=0")
        .body(axum::body::Body::empty())
        .unwrap();
    let resp = app.router.clone().oneshot(req).await.unwrap();
    let mut stream = resp.into_body().into_data_stream();
    let (s, _) = revoke_as(&app, &app.owner, &token).await;
    assert_eq!(s, StatusCode::CREATED);
    let mut text = String::new();
    // Well under a second; the bound only keeps a broken stream from hanging the test.
    while !text.contains(&token) {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), stream.next())
            .await
            .expect("the revocation arrived on the stream")
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.contains("event: revocation"), "{text}");
}

#[tokio::test]
async fn revocations_survive_a_restart() {
    let (app, agent, device) = scene().await;
    let (_, token) = issued(&app, &agent, &device, 100).await;
    assert_eq!(
        revoke_as(&app, &app.owner, &token).await.0,
        StatusCode::CREATED
    );
    let app = app.restart().await;
    assert!(
        feed(&app, 0)
            .await
            .iter()
            .any(|r| r["cid"] == token.as_str())
    );
}

#[tokio::test]
async fn the_kill_switch_stops_one_agent_and_spares_the_others() {
    let (app, agent, device) = scene().await;
    let other = key(12);
    app.add_agent("mailer", &other, &["/payment"]).await;
    let (_, t1) = issued(&app, &agent, &device, 100).await;
    let (_, t2) = issued(&app, &agent, &device, 200).await;
    let (_, spared) = issued(&app, &other, &device, 300).await;
    let (_, pending) = app.request(&agent, refund(400)).await;
    let kill = json!({"agent": "billing-bot"});
    let (s, report) = app
        .call(
            Method::POST,
            "/v1/kill",
            Some(&app.owner),
            Some(kill.clone()),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{report}");
    assert_eq!(
        (
            report["tokens_revoked"].as_u64(),
            report["requests_cancelled"].as_u64()
        ),
        (Some(2), Some(1))
    );
    let revoked: Vec<_> = feed(&app, 0)
        .await
        .iter()
        .map(|r| r["cid"].as_str().unwrap().to_owned())
        .collect();
    assert!(revoked.contains(&t1) && revoked.contains(&t2) && !revoked.contains(&spared));
    let id = pending["id"].as_str().unwrap();
    assert_eq!(app.view(&agent, id).await["state"], "cancelled");
    let (s, v) = app.request(&agent, refund(1)).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, _) = app.request(&other, refund(1)).await;
    assert_eq!(s, StatusCode::CREATED, "others are untouched");
    // Only the owner pulls it.
    let (s, _) = app
        .call(Method::POST, "/v1/kill", Some(&device), Some(kill.clone()))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, lifted) = app
        .call(
            Method::POST,
            "/v1/kill/lift",
            Some(&app.owner),
            Some(kill.clone()),
        )
        .await;
    assert_eq!(
        (s, lifted["lifted"].as_bool()),
        (StatusCode::OK, Some(true)),
        "{lifted}"
    );
    let (_, again) = app
        .call(Method::POST, "/v1/kill/lift", Some(&app.owner), Some(kill))
        .await;
    assert_eq!(again["lifted"], false, "nothing to lift the second time");
    assert_eq!(app.request(&agent, refund(2)).await.0, StatusCode::CREATED);
}

#[tokio::test]
async fn kill_all_and_the_tokens_list() {
    let (app, agent, device) = scene().await;
    let (_, token) = issued(&app, &agent, &device, 100).await;
    let (s, live) = app
        .call(
            Method::GET,
            "/v1/tokens?live=true&agent=billing-bot",
            Some(&app.owner),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(live.as_array().unwrap().len(), 1);
    assert_eq!(live[0]["cid"], token.as_str());
    let (s, _) = app
        .call(
            Method::POST,
            "/v1/kill",
            Some(&app.owner),
            Some(json!({"all": true})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, live) = app
        .call(Method::GET, "/v1/tokens?live=true", Some(&app.owner), None)
        .await;
    assert!(live.as_array().unwrap().is_empty());
    let (_, all) = app
        .call(Method::GET, "/v1/tokens", Some(&app.owner), None)
        .await;
    assert!(all[0]["revoked_at"].is_number());
    assert_eq!(
        app.request(&agent, refund(1)).await.0,
        StatusCode::FORBIDDEN
    );
    app.call(
        Method::POST,
        "/v1/kill/lift",
        Some(&app.owner),
        Some(json!({"all": true})),
    )
    .await;
    assert_eq!(app.request(&agent, refund(1)).await.0, StatusCode::CREATED);
}

/// The whole log as an export, through the API.
async fn export(app: &TestApp) -> String {
    let (s, _) = app
        .call(Method::POST, "/v1/audit/checkpoint", Some(&app.owner), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, page) = app
        .call(Method::GET, "/v1/audit?after=0", Some(&app.owner), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let entries =
        serde_json::from_value::<Vec<countersign_server::audit::Entry>>(page["entries"].clone())
            .unwrap();
    let checkpoints = serde_json::from_value::<Vec<countersign_server::audit::Checkpoint>>(
        page["checkpoints"].clone(),
    )
    .unwrap();
    write_export(&app.service, 0, &entries, &checkpoints)
}

#[tokio::test]
async fn the_audit_log_records_every_step_and_verifies() {
    let (app, agent, device) = scene().await;
    let (id, token) = issued(&app, &agent, &device, 100).await;
    revoke_as(&app, &app.owner, &token).await;
    let text = export(&app).await;
    let summary = verify_export(&text, Some(&app.service)).unwrap();
    assert!(
        summary.entries >= 6 && summary.checkpoints == 1,
        "{summary:?}"
    );
    for kind in [
        "agent.added",
        "device.paired",
        "request.created",
        "approval",
        "issuance",
        "revocation",
    ] {
        assert!(
            text.contains(&format!("\"kind\":\"{kind}\"")),
            "no {kind} entry"
        );
    }
    assert!(text.contains(&id));
    // A checkpoint checked against another service's key is rejected.
    let err = verify_export(&text, Some(&key(31).did())).unwrap_err();
    assert!(err.what.contains("not from"), "{err}");
}

async fn tamper(app: &TestApp, sql: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(&app.db_url())
        .await
        .unwrap();
    sqlx::query(sql).execute(&mut conn).await.unwrap();
}

#[tokio::test]
async fn tampering_with_the_stored_log_is_detected() {
    let cases = [
        (
            "edit",
            "UPDATE audit SET data = '{\"forged\":true}' WHERE seq = 3",
            "edited",
        ),
        ("delete", "DELETE FROM audit WHERE seq = 2", "missing"),
        (
            "reorder",
            "UPDATE audit SET seq = -2 WHERE seq = 2; UPDATE audit SET seq = 2 WHERE seq = 3; UPDATE audit SET seq = 3 WHERE seq = -2",
            "line",
        ),
        ("truncate", "DELETE FROM audit WHERE seq >= 4", "deleted"),
    ];
    for (name, sql, expect) in cases {
        let (app, agent, device) = scene().await;
        issued(&app, &agent, &device, 100).await;
        let (s, _) = app
            .call(Method::POST, "/v1/audit/checkpoint", Some(&app.owner), None)
            .await;
        assert_eq!(s, StatusCode::OK);
        assert!(
            verify_export(&export(&app).await, Some(&app.service)).is_ok(),
            "{name}: clean log verifies"
        );
        tamper(&app, sql).await;
        // Export without signing a new checkpoint over the damage.
        let (_, page) = app
            .call(Method::GET, "/v1/audit?after=0", Some(&app.owner), None)
            .await;
        let entries: Vec<countersign_server::audit::Entry> =
            serde_json::from_value(page["entries"].clone()).unwrap();
        let (_, all) = app
            .call(Method::GET, "/v1/audit?after=0", Some(&app.owner), None)
            .await;
        let checkpoints: Vec<countersign_server::audit::Checkpoint> =
            serde_json::from_value(all["checkpoints"].clone()).unwrap();
        let text = write_export(&app.service, 0, &entries, &checkpoints);
        let err = verify_export(&text, Some(&app.service)).expect_err(name);
        assert!(err.to_string().contains(expect), "{name}: {err}");
    }
}

async fn add_auto(app: &TestApp, cmd: &str, policy: Value) {
    let d = DelegationBuilder::new(app.service, Some(app.owner.did()), cmd.parse().unwrap())
        .policy(policy_of(&policy))
        .expiration(Some(as_u64(app.clock_now()) + 30 * 86_400))
        .sign(&app.owner, &mut CountingNonces::new(99));
    let (s, v) = app
        .call(
            Method::POST,
            "/v1/auto-approvals",
            Some(&app.owner),
            Some(json!({"delegation": BASE64.encode(&d.bytes)})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
}

#[tokio::test]
async fn auto_approval_issues_inside_its_delegation_only() {
    let app = TestApp::new().await;
    let mailer = key(4);
    app.add_agent("mailer", &mailer, &["/email"]).await;
    add_auto(
        &app,
        "/email/send",
        json!([["like", ".to", "*@example.com"]]),
    )
    .await;
    let mail = |to: &str| json!({"cmd": "/email/send", "args": {"to": to, "subject": "hi"}, "summary": format!("Mail {to}")});
    let (s, inside) = app.request(&mailer, mail("ana@example.com")).await;
    assert_eq!(
        (s, inside["state"].as_str()),
        (StatusCode::CREATED, Some("approved")),
        "{inside}"
    );
    let view = app.view(&mailer, inside["id"].as_str().unwrap()).await;
    assert_eq!(view["decided_by"], app.service.to_string());
    let chain = Container::parse(
        view["container"].as_str().unwrap().as_bytes(),
        &ContainerLimits::default(),
    )
    .unwrap();
    assert_eq!(chain.len(), 2, "owner → service → agent");
    let (s, outside) = app.request(&mailer, mail("eve@evil.test")).await;
    assert_eq!(
        (s, outside["state"].as_str()),
        (StatusCode::CREATED, Some("pending")),
        "{outside}"
    );
}

#[tokio::test]
async fn a_quorum_needs_k_distinct_devices() {
    let (app, agent, device) = scene().await;
    let second = key(3);
    app.pair(&second, &["/payment"], json!([])).await;
    let rule = json!({"cmd": "/payment", "when": [[">", ".amount", 100000]], "approvals": 2});
    let (s, v) = app
        .call(
            Method::POST,
            "/v1/quorum-rules",
            Some(&app.owner),
            Some(rule),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    // Below the threshold, one approval suffices.
    issued(&app, &agent, &device, 500).await;
    let (_, created) = app.request(&agent, refund(150_000)).await;
    let id = created["id"].as_str().unwrap();
    let view = app.view(&device, id).await;
    let (s, v) = app
        .approve(
            &device,
            id,
            app.approval_for(&device, &view, json!([]), 120),
        )
        .await;
    assert_eq!(
        (s, v["state"].as_str()),
        (StatusCode::ACCEPTED, Some("pending")),
        "k − 1 approvals: not issued"
    );
    let (s, v) = app
        .approve(
            &device,
            id,
            app.approval_for(&device, &view, json!([]), 100),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("already_approved")),
        "the same device twice"
    );
    assert_eq!(app.view(&agent, id).await["state"], "pending");
    let (s, v) = app
        .approve(
            &second,
            id,
            app.approval_for(&second, &view, json!([]), 120),
        )
        .await;
    assert_eq!(
        (s, v["state"].as_str()),
        (StatusCode::OK, Some("approved")),
        "{v}"
    );
    // The issued token carries the other approver's chain in its meta.
    let container = app.view(&agent, id).await["container"]
        .as_str()
        .unwrap()
        .to_owned();
    let chain = Container::parse(container.as_bytes(), &ContainerLimits::default()).unwrap();
    let validator = Validator::new(Limits::default(), 0);
    let issued_token = chain
        .tokens()
        .iter()
        .filter_map(|t| {
            validator
                .open_delegation(&TokenRef::Proof(0, Cid::dag_cbor(t)), t)
                .ok()
        })
        .find(|d| d.audience == agent.did())
        .unwrap();
    let co = issued_token.meta.unwrap();
    let pairs = co
        .get("countersign/co-approvals")
        .unwrap()
        .as_list()
        .unwrap();
    assert_eq!(pairs.len(), 1);
}

#[tokio::test]
async fn identical_pending_requests_are_merged() {
    let (app, agent, _) = scene().await;
    let (s1, a) = app.request(&agent, refund(100)).await;
    let (s2, b) = app.request(&agent, refund(100)).await;
    assert_eq!((s1, s2), (StatusCode::CREATED, StatusCode::OK));
    assert_eq!(a["id"], b["id"]);
    let (s3, c) = app.request(&agent, refund(101)).await;
    assert_eq!(s3, StatusCode::CREATED);
    assert_ne!(a["id"], c["id"]);
}

#[tokio::test]
async fn rate_and_pending_limits_hold() {
    let app = TestApp::with_config(|c| c.requests.max_pending_total = 3).await;
    let (fast, slow) = (key(4), key(5));
    let (s, _) = app
        .call(Method::POST, "/v1/agents", Some(&app.owner), Some(json!({
            "name": "fast", "did": fast.did().to_string(), "allow": ["/payment"], "max_pending": 10, "rate_per_min": 2,
        })))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    app.add_agent("slow", &slow, &["/payment"]).await;
    assert_eq!(app.request(&fast, refund(1)).await.0, StatusCode::CREATED);
    assert_eq!(app.request(&fast, refund(2)).await.0, StatusCode::CREATED);
    let (s, v) = app.request(&fast, refund(3)).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"))
    );
    assert_eq!(app.request(&slow, refund(4)).await.0, StatusCode::CREATED);
    let (s, v) = app.request(&slow, refund(5)).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("too_many_pending")),
        "the owner-wide cap"
    );
}

#[tokio::test]
async fn repeated_denials_suspend_an_agent_until_resumed() {
    let (app, agent, device) = scene().await;
    for n in 0..3 {
        let (_, created) = app.request(&agent, refund(10 + n)).await;
        let id = created["id"].as_str().unwrap().to_owned();
        let (s, _) = app.deny(&device, &id, &id, "no").await;
        assert_eq!(s, StatusCode::OK);
    }
    let (s, v) = app.request(&agent, refund(99)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("suspended"),
        "{v}"
    );
    let (s, _) = app
        .call(
            Method::POST,
            "/v1/agents/billing-bot/resume",
            Some(&app.owner),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(app.request(&agent, refund(99)).await.0, StatusCode::CREATED);
}

#[tokio::test]
async fn number_matching_requires_the_requesters_code() {
    let app = TestApp::with_config(|c| c.requests.number_matching = vec!["/payment".into()]).await;
    let (agent, device) = (key(4), key(2));
    app.add_agent("bot", &agent, &["/payment"]).await;
    app.pair(&device, &["/payment"], json!([])).await;
    let (_, created) = app.request(&agent, refund(100)).await;
    let id = created["id"].as_str().unwrap();
    let code = created["code"].as_str().unwrap().to_owned();
    let view = app.view(&device, id).await;
    let choices: Vec<String> = serde_json::from_value(view["match_choices"].clone()).unwrap();
    assert_eq!(choices.len(), 3);
    assert!(choices.contains(&code) && view.get("code").is_none());
    let sign = |picked: Option<&str>| {
        let mut b = DelegationBuilder::new(
            app.service,
            Some(app.owner.did()),
            "/payment/refund".parse().unwrap(),
        )
        .policy(policy_of(&view["policy"]))
        .expiration(Some(as_u64(app.clock_now()) + 60));
        if let Some(p) = picked {
            b = b.meta(
                [("countersign/match", countersign_core::Value::from(p))]
                    .into_iter()
                    .collect(),
            );
        }
        BASE64.encode(&b.sign(&device, &mut CountingNonces::new(5)).bytes)
    };
    let wrong = choices.iter().find(|c| **c != code).unwrap().clone();
    let (s, v) = app.approve(&device, id, sign(None)).await;
    assert_eq!(v["error"]["code"], "match_required", "{s}");
    let (s, v) = app.approve(&device, id, sign(Some(&wrong))).await;
    assert_eq!(v["error"]["code"], "match_wrong", "{s}");
    let (s, v) = app.approve(&device, id, sign(Some(&code))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

#[tokio::test]
async fn receipts_are_accepted_from_configured_gateways_only() {
    let gateway = key(40);
    let app = TestApp::with_config(|c| c.gateways = vec![gateway.did().to_string()]).await;
    #[derive(serde::Serialize)]
    struct Receipt {
        iss: String,
        aud: String,
        iat: i64,
        exp: i64,
        jti: String,
        invocation: String,
        route: String,
        outcome: String,
        status: u16,
        at: i64,
    }
    let receipt = |by: &Keypair, jti: &str| {
        let claims = Receipt {
            iss: by.did().to_string(),
            aud: app.service.to_string(),
            iat: app.clock_now(),
            exp: app.clock_now() + 300,
            jti: jti.into(),
            invocation: Cid::dag_cbor(b"inv").to_string(),
            route: "/payment/refund".into(),
            outcome: "ok".into(),
            status: 200,
            at: app.clock_now(),
        };
        let der = by.to_pkcs8_der().unwrap();
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA),
            &claims,
            &jsonwebtoken::EncodingKey::from_ed_der(&der),
        )
        .unwrap()
    };
    let (s, _) = app
        .call(
            Method::POST,
            "/v1/receipts",
            None,
            Some(json!({"receipt": receipt(&key(41), "r1")})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    for _ in 0..2 {
        let (s, v) = app
            .call(
                Method::POST,
                "/v1/receipts",
                None,
                Some(json!({"receipt": receipt(&gateway, "r2")})),
            )
            .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    }
    let text = export(&app).await;
    assert_eq!(
        text.matches("gateway.receipt").count(),
        1,
        "a retried receipt is recorded once"
    );
}

#[tokio::test]
async fn a_batch_of_receipts_is_recorded_once_per_receipt_whatever_the_token() {
    let gateway = key(42);
    let app = TestApp::with_config(|c| c.gateways = vec![gateway.did().to_string()]).await;
    let item = |n: u8, outcome: &str| {
        json!({"invocation": Cid::dag_cbor(&[n]).to_string(), "route": "/email/send",
               "outcome": outcome, "status": 250, "at": app.clock_now()})
    };
    let post = |jti: &str, receipts: Value| {
        let claims = json!({
            "iss": gateway.did().to_string(), "aud": app.service.to_string(),
            "iat": app.clock_now(), "exp": app.clock_now() + 300, "jti": jti,
            "receipts": receipts,
        });
        let token = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA),
            &claims,
            &jsonwebtoken::EncodingKey::from_ed_der(&gateway.to_pkcs8_der().unwrap()),
        )
        .unwrap();
        app.call(
            Method::POST,
            "/v1/receipts",
            None,
            Some(json!({ "receipt": token })),
        )
    };
    let (s, v) = post("b1", json!([item(1, "ok"), item(2, "upstream_error")])).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    // A retry signed anew (another jti) that also carries a new receipt adds only that one.
    let (s, v) = post(
        "b2",
        json!([item(1, "ok"), item(2, "upstream_error"), item(3, "ok")]),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let (s, v) = post("b3", json!([])).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    // A full batch is far longer than a bearer token, and is taken whole.
    // (Receipts 1–3 were recorded above: only the other 253 are new.)
    let full: Vec<Value> = (0..=255u8).map(|n| item(n, "ok")).collect();
    assert_eq!(full.len(), 256);
    let (s, v) = post("full", json!(full)).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let mut over = full.clone();
    over.push(item(3, "ok"));
    let (s, v) = post("over", json!(over)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, v) = post("b4", json!([item(4, "maybe")])).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("outcome"),
        "{v}"
    );

    let text = export(&app).await;
    let receipts: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["kind"] == "gateway.receipt")
        .collect();
    let subjects: Vec<&str> = receipts
        .iter()
        .map(|e| e["subject"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = [1u8, 2, 3, 0]
        .into_iter()
        .chain(4..=255)
        .map(|n| Cid::dag_cbor(&[n]).to_string())
        .collect();
    assert_eq!(subjects, expected, "each receipt once, in order");
    // Each token is kept with the first entry it added; every entry names its token.
    assert!(receipts[0]["data"]["receipt"].is_string());
    assert!(receipts[1]["data"]["receipt"].is_null());
    assert!(receipts[2]["data"]["receipt"].is_string());
    assert_eq!(receipts[2]["data"]["jti"], "b2");
}
