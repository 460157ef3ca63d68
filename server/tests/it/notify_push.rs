//! Web Push end to end: a request created through the API reaches a loopback push
//! service encrypted (decrypted here by http_ece) and VAPID-signed, from the worker that
//! `serve` runs; its end closes the notification; a stored but unsent notification
//! survives a restart.

use std::time::Instant;

use axum::http::{Method, StatusCode};
use countersign_server::audit::kind;
use countersign_server::notify::{self, Secrets};
use serde_json::json;

use crate::notify::{Browser, Scene, StandIn, check_vapid};
use crate::support::{NOW, TestApp};

/// Runs `serve` (and so the worker) for `app` until the returned sender is dropped.
async fn serve(app: &TestApp) -> tokio::sync::oneshot::Sender<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let state = app.state.clone();
    tokio::spawn(countersign_server::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    stop
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_request_is_pushed_encrypted_and_signed_then_closed() {
    let Some(browser) = Browser::new() else {
        return;
    };
    let push = StandIn::start().await;
    let scene = Scene::new(|c| c.requests.number_matching = vec!["/payment".into()]).await;
    let endpoint = format!("{}/push/sub-1", push.base);
    scene.subscribe(browser.subscription(&endpoint)).await;
    let (s, vapid) = scene
        .app
        .call(Method::GET, "/v1/push/vapid", None, None)
        .await;
    assert_eq!(s, StatusCode::OK, "{vapid}");
    let public_key = vapid["public_key"].as_str().unwrap().to_owned();
    assert_eq!(public_key, scene.vapid.public_key_base64url());
    let _stop = serve(&scene.app).await;

    let started = Instant::now();
    let id = scene.request("Refund 49.00 to Ana").await;
    let got = push.next().await;
    let latency = got.at.duration_since(started);
    println!(
        "push latency (request created → push service received): {:.1} ms",
        latency.as_secs_f64() * 1000.0
    );

    assert_eq!(got.method, Method::POST);
    assert_eq!(got.path, "/push/sub-1");
    assert_eq!(
        got.header("ttl"),
        "300",
        "TTL = the request's remaining lifetime"
    );
    assert_eq!(got.header("urgency"), "high");
    assert_eq!(got.header("topic"), notify::topic(&id));
    assert_eq!(got.header("content-encoding"), "aes128gcm");
    check_vapid(&got, &push.base, &public_key);
    let payload = browser.decrypt(&got.body);
    assert_eq!(
        payload,
        json!({
            "type": "pending", "id": id, "agent": "billing-bot",
            "summary": "Refund 49.00 to Ana", "expires_at": NOW + 300,
            "number_matching": true,
        })
    );

    scene.withdraw(&id).await;
    let closed = push.next().await;
    assert_eq!(
        closed.header("topic"),
        notify::topic(&id),
        "replaces the pending one"
    );
    assert_eq!(closed.header("urgency"), "high");
    check_vapid(&closed, &push.base, &public_key);
    assert_eq!(
        browser.decrypt(&closed.body),
        json!({"type": "closed", "id": id, "state": "withdrawn"})
    );
    let sent = scene.audit(&id, kind::NOTIFICATION_SENT).await;
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[0]["channel"], "push");
    assert_eq!(sent[0]["message"], "pending");
    assert_eq!(sent[0]["device"], scene.device_id.as_str());
    assert_eq!(sent[0]["push_service"], push.base.as_str());
    assert_eq!(sent[0]["status"], 201);
    assert!(
        !sent[0].to_string().contains("sub-1"),
        "no endpoint in the log"
    );
    assert_eq!(sent[1]["message"], "closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_stored_before_a_crash_is_sent_after_restart() {
    let Some(browser) = Browser::new() else {
        return;
    };
    let push = StandIn::start().await;
    let scene = Scene::new(|_| {}).await;
    scene
        .subscribe(browser.subscription(&format!("{}/push/sub-1", push.base)))
        .await;
    // No worker runs: the request and its message are stored, nothing is sent.
    let id = scene.request("Refund 12.00").await;
    assert!(push.drain().await.is_empty());
    let vapid = scene.vapid.clone();

    // A new service over the same database file, as after the process was killed.
    let Scene { app, .. } = scene;
    let app = app
        .restart_with(|c| {
            c.public_url = "https://countersign.test".into();
            c.push.contact = crate::notify::CONTACT.into();
            c.push.allow_insecure_endpoints = true;
        })
        .await;
    let _ = app.state.clone().with_vapid_key(vapid.clone());
    let notifier = countersign_server::notify::Notifier::new(
        app.state.clone(),
        notify::channels(&app.state, Secrets::default()),
    )
    .unwrap();
    tokio::spawn(notifier.run());
    let got = push.next().await;
    assert_eq!(got.header("topic"), notify::topic(&id));
    check_vapid(&got, &push.base, &vapid.public_key_base64url());
    let payload = browser.decrypt(&got.body);
    assert_eq!(payload["id"], id.as_str());
    assert_eq!(payload["type"], "pending");
}
