//! Several service processes on one PostgreSQL database: a decision made on one replica
//! wakes the agent waiting on another, and racing approvals on two replicas issue once.
//! Runs when `COUNTERSIGN_TEST_DATABASE_URL` names a PostgreSQL server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use countersign_server::clock::ManualClock;
use countersign_server::config::Config;
use countersign_server::duration::Secs;
use countersign_server::state::AppState;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::store::fixtures::{Backend, TestDb};
use crate::support::{NOW, TestApp, key};

/// A second replica over the same database, with the same keys and clock.
async fn replica(url: &str, clock: Arc<ManualClock>) -> (Router, AppState) {
    let store = countersign_server::store::open(url).await.unwrap();
    // Waiters never re-check on their own here: only a notification can wake them.
    let config = Config {
        requests: countersign_server::config::RequestsConfig {
            recheck: Secs(3600),
            ..Default::default()
        },
        ..Config::default()
    };
    let state = AppState::new(store, key(9), key(1).did(), config, clock);
    tokio::spawn(countersign_server::follow_changes(state.clone()));
    (countersign_server::app(state.clone()), state)
}

async fn call(
    router: &Router,
    method: &str,
    path: &str,
    token: String,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"));
    let body = match body {
        Some(b) => {
            req = req.header("content-type", "application/json");
            Body::from(b.to_string())
        }
        None => Body::empty(),
    };
    let resp = router
        .clone()
        .oneshot(req.body(body).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_approval_on_one_replica_wakes_the_agent_waiting_on_another() {
    let Some(db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let clock = Arc::new(ManualClock::new(NOW));
    let (a, a_state) = replica(db.url(), clock.clone()).await;
    let (b, b_state) = replica(db.url(), clock.clone()).await;
    // The scene is set up through replica A with the usual helpers.
    let app = TestApp::on(a.clone(), a_state, clock.clone());
    let (agent, device) = (key(4), key(2));
    app.add_agent("bot", &agent, &["/payment"]).await;
    app.pair(&device, &["/payment"], json!([])).await;
    let (_, created) = app
        .request(
            &agent,
            json!({"cmd": "/payment/x", "args": {"a": 1}, "summary": "s"}),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let view = app.view(&device, &id).await;

    let token = app.jwt(&agent);
    let path = format!("/v1/requests/{id}/wait?timeout=60");
    let waiter = tokio::spawn(async move { call(&b, "GET", &path, token, None).await });
    // Let the waiter subscribe on B; whether it has yet does not change the outcome.
    while b_state.waiters.is_empty() {
        tokio::task::yield_now().await;
    }
    let approved_at = Instant::now();
    let (s, _) = app
        .approve(
            &device,
            &id,
            app.approval_for(&device, &view, json!([]), 60),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (status, woke) = tokio::time::timeout(Duration::from_secs(30), waiter)
        .await
        .expect("woken by the other replica's notification, not by a timeout")
        .unwrap();
    println!(
        "cross-replica wake-up after the approval: {:?}",
        approved_at.elapsed()
    );
    assert_eq!(
        (status, woke["state"].as_str()),
        (StatusCode::OK, Some("approved"))
    );
    assert!(woke["container"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_approvals_on_two_replicas_issue_once() {
    let Some(db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let clock = Arc::new(ManualClock::new(NOW));
    let (a, a_state) = replica(db.url(), clock.clone()).await;
    let (b, _) = replica(db.url(), clock.clone()).await;
    let app = TestApp::on(a.clone(), a_state, clock.clone());
    let (agent, d1, d2) = (key(4), key(2), key(3));
    app.add_agent("bot", &agent, &["/payment"]).await;
    app.pair(&d1, &["/payment"], json!([])).await;
    app.pair(&d2, &["/payment"], json!([])).await;
    for round in 0..5 {
        let (_, created) = app
            .request(
                &agent,
                json!({"cmd": "/payment/x", "args": {"round": round}, "summary": "s"}),
            )
            .await;
        let id = created["id"].as_str().unwrap().to_owned();
        let view = app.view(&d1, &id).await;
        let tasks: Vec<_> = [(&a, &d1), (&b, &d2), (&b, &d1), (&a, &d2)]
            .into_iter()
            .map(|(router, device)| {
                let body = json!({"delegation": app.approval_for(device, &view, json!([]), 60)});
                let (router, token, path) = (
                    router.clone(),
                    app.jwt(device),
                    format!("/v1/requests/{id}/approve"),
                );
                tokio::spawn(async move { call(&router, "POST", &path, token, Some(body)).await.0 })
            })
            .collect();
        let mut ok = 0;
        for t in tasks {
            let status = t.await.unwrap();
            assert!(
                status == StatusCode::OK || status == StatusCode::CONFLICT,
                "{status}"
            );
            ok += usize::from(status == StatusCode::OK);
        }
        assert_eq!(ok, 1, "round {round}: exactly one approval issues");
    }
    let (_, tokens) = app
        .call(
            axum::http::Method::GET,
            "/v1/tokens",
            Some(&app.owner),
            None,
        )
        .await;
    assert_eq!(tokens.as_array().unwrap().len(), 5);
}
