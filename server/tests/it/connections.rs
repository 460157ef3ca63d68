//! What one caller, or many connections, can hold: long-polls and event streams are
//! capped per caller, public revocation streams service-wide, and connections
//! service-wide.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use countersign_core::Keypair;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tower::ServiceExt;

use crate::support::{TestApp, key, listener};

const REFUND: &str = "/payment/refund";

async fn scene(max_streams: usize) -> (TestApp, Keypair, Keypair, Keypair) {
    let app = TestApp::with_config(|c| c.limits.max_streams_per_caller = max_streams).await;
    let (agent, other, device) = (key(4), key(5), key(2));
    app.add_agent("billing-bot", &agent, &["/payment"]).await;
    app.add_agent("mail-bot", &other, &["/payment"]).await;
    app.pair(&device, &["/payment"], json!([])).await;
    (app, agent, other, device)
}

async fn pending_request(app: &TestApp, agent: &Keypair, summary: &str) -> String {
    let (s, v) = app
        .request(
            agent,
            json!({"cmd": REFUND, "args": {"charge": "ch_1", "amount": 100}, "summary": summary}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["id"].as_str().unwrap().to_owned()
}

/// Waits (without a time bound on the outcome) until `agent` holds `n` streams.
async fn until_held(app: &TestApp, agent: &Keypair, n: usize) {
    for _ in 0..10_000 {
        if app.state.holds.held_by(&agent.did()) == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!(
        "the agent holds {} streams, expected {n}",
        app.state.holds.held_by(&agent.did())
    );
}

fn wait_path(id: &str) -> String {
    format!("/v1/requests/{id}/wait?timeout=60")
}

/// A long-poll through the router on a task of its own; answers its status and body.
fn long_poll(
    app: &TestApp,
    agent: &Keypair,
    id: &str,
) -> tokio::task::JoinHandle<(StatusCode, Value)> {
    let (router, token, path) = (app.router.clone(), app.jwt(agent), wait_path(id));
    tokio::spawn(async move {
        let req = Request::builder()
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        let resp = router.oneshot(req).await.unwrap();
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, serde_json::from_slice::<Value>(&body).unwrap())
    })
}

#[tokio::test]
async fn one_agent_cannot_hold_more_long_polls_and_streams_than_its_share() {
    let (app, agent, other, device) = scene(2).await;
    let id = pending_request(&app, &agent, "refund one").await;
    let other_id = pending_request(&app, &other, "refund two").await;

    // An event stream holds its place as long as its body is open.
    let events = Request::builder()
        .uri(format!("/v1/requests/{id}/events"))
        .header("authorization", format!("Bearer {}", app.jwt(&agent)))
        .body(Body::empty())
        .unwrap();
    let stream = app.router.clone().oneshot(events).await.unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    until_held(&app, &agent, 1).await;

    // A long-poll takes the second place; another agent waits too.
    let poll = long_poll(&app, &agent, &id);
    until_held(&app, &agent, 2).await;
    let other_poll = long_poll(&app, &other, &other_id);
    until_held(&app, &other, 1).await;

    // A third is refused in the error shape, for a long-poll and for a stream alike.
    let (s, v) = app
        .call(Method::GET, &wait_path(&id), Some(&agent), None)
        .await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert_eq!(v["error"]["code"], "too_many_streams", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_streams_per_caller"),
        "{v}"
    );
    let (s, v) = app
        .call(
            Method::GET,
            &format!("/v1/requests/{id}/events"),
            Some(&agent),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{v}");
    let metrics = app.state.metrics.render(0, 0);
    assert!(
        metrics.contains("countersign_streams_refused_total 2\n"),
        "{metrics}"
    );
    // Other calls of the same agent still work, and the other agent's long-poll holds.
    assert_eq!(app.view(&agent, &id).await["state"], "pending");
    assert_eq!(app.state.holds.held_by(&other.did()), 1);
    assert!(!other_poll.is_finished());

    // Closing the stream gives its place back.
    drop(stream);
    until_held(&app, &agent, 1).await;
    // The long-poll ends with the decision and gives its place back too.
    let (s, v) = app.deny(&device, &id, &id, "not today").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = poll.await.unwrap();
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["state"], "denied", "{v}");
    until_held(&app, &agent, 0).await;
    let (s, v) = app
        .call(Method::GET, &wait_path(&id), Some(&agent), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(app.state.holds.held_by(&agent.did()), 0);
    // The other agent's long-poll answers with its own decision.
    let (s, v) = app.deny(&device, &other_id, &other_id, "no").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = other_poll.await.unwrap();
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["state"], "denied", "{v}");
    until_held(&app, &other, 0).await;
}

#[tokio::test]
async fn a_client_that_hangs_up_gives_its_place_back() {
    let (app, agent, _, _) = scene(2).await;
    let id = pending_request(&app, &agent, "refund one").await;
    let served = app.serve().await;
    let addr = served.addr;
    for path in [wait_path(&id), format!("/v1/requests/{id}/events")] {
        let mut conns = Vec::new();
        for _ in 0..2 {
            let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
            let head = format!(
                "GET {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {}\r\n\r\n",
                app.jwt(&agent)
            );
            conn.write_all(head.as_bytes()).await.unwrap();
            conns.push(conn);
        }
        until_held(&app, &agent, 2).await;
        // Both go away without a word: the service notices and frees both places.
        drop(conns);
        until_held(&app, &agent, 0).await;
    }
    served.stop().await;
}

#[tokio::test]
async fn public_revocation_streams_are_capped_service_wide() {
    let app = TestApp::with_config(|c| c.limits.max_public_streams = 1).await;
    let events = || {
        Request::builder()
            .uri("/v1/revocations/events")
            .body(Body::empty())
            .unwrap()
    };
    let first = app.router.clone().oneshot(events()).await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let (s, v) = app
        .call(Method::GET, "/v1/revocations/events", None, None)
        .await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert_eq!(v["error"]["code"], "too_many_streams", "{v}");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains("GET /v1/revocations?after="), "{v}");
    // The paged feed still answers.
    let (s, v) = app.call(Method::GET, "/v1/revocations", None, None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    drop(first);
    let again = app.router.clone().oneshot(events()).await.unwrap();
    assert_eq!(again.status(), StatusCode::OK);
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_until_one_ends() {
    let app = TestApp::with_config(|c| {
        c.limits.max_connections = 2;
        c.limits.header_timeout = countersign_server::duration::Secs(120);
    })
    .await;
    let served = app.serve().await;
    let metrics = || app.state.metrics.render(0, 0);
    listener::assert_connections_beyond_two_wait(
        served.addr,
        metrics,
        "countersign_open_connections 2\n",
    )
    .await;
    served.stop().await;
}
