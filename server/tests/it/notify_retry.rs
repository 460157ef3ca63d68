//! Delivery failures: 429 (respecting Retry-After) and 5xx are retried with exponential
//! backoff on the service's clock — the test moves the clock, nothing sleeps — and given
//! up on after `max_attempts`; 404 and 410 remove the subscription.

use countersign_server::audit::kind;
use countersign_server::notify::{self, Secrets};
use countersign_server::store::DeliveryState;
use serde_json::json;

use crate::notify::{Scene, StandIn};
use crate::support::NOW;

/// A subscription whose keys the tests never need to decrypt with.
fn keys_only(endpoint: &str) -> serde_json::Value {
    // A valid P-256 point (the generator) and a 16-byte secret.
    json!({"endpoint": endpoint, "keys": {
        "p256dh": "BGsX0fLhLEJH-Lzm5WOkQPJ3A32BLeszoPShOUXYmMKWT-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU",
        "auth": "AAECAwQFBgcICQoLDA0ODw"}})
}

#[tokio::test]
async fn busy_and_failing_push_services_are_retried_with_backoff() {
    let push = StandIn::start().await;
    let scene = Scene::new(|c| c.notify.retry_base = countersign_server::duration::Secs(2)).await;
    let endpoint = format!("{}/push/busy", push.base);
    scene.subscribe(keys_only(&endpoint)).await;
    push.script("/push/busy", &[(500, None), (429, Some("30")), (503, None)]);
    let notifier = scene.notifier(Secrets::default());
    let id = scene.request("Refund 5.00").await;

    let round = notifier.round().await.unwrap();
    assert_eq!((round.claimed, round.retried), (1, 1));
    assert_eq!(push.drain().await.len(), 1, "500");
    let d = scene
        .app
        .state
        .store
        .deliveries(&id)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(d.next_at, NOW + 2, "first retry after retry_base");
    assert_eq!(d.last_error.as_deref(), Some("HTTP 500"));
    assert_eq!(notifier.round().await.unwrap().claimed, 0, "not due yet");

    scene.app.clock.advance(2);
    assert_eq!(notifier.round().await.unwrap().retried, 1);
    assert_eq!(push.drain().await.len(), 1, "429");
    // Retry-After (30 s) outweighs the backoff (4 s).
    scene.app.clock.advance(29);
    assert_eq!(notifier.round().await.unwrap().claimed, 0);
    scene.app.clock.advance(1);
    assert_eq!(notifier.round().await.unwrap().retried, 1);
    assert_eq!(push.drain().await.len(), 1, "503");
    // Third failure: 2 · 2² = 8 s.
    scene.app.clock.advance(7);
    assert_eq!(notifier.round().await.unwrap().claimed, 0);
    scene.app.clock.advance(1);
    let round = notifier.round().await.unwrap();
    assert_eq!(round.sent, 1);
    let got = push.drain().await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].header("topic"), notify::topic(&id));
    assert_eq!(
        got[0].header("ttl"),
        (300 - 2 - 30 - 8).to_string(),
        "time left"
    );
    let sent = scene.audit(&id, kind::NOTIFICATION_SENT).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["attempts"], 4);
    assert!(scene.audit(&id, kind::NOTIFICATION_FAILED).await.is_empty());
}

#[tokio::test]
async fn deliveries_are_given_up_after_max_attempts() {
    let push = StandIn::start().await;
    let scene = Scene::new(|c| c.notify.max_attempts = 2).await;
    scene
        .subscribe(keys_only(&format!("{}/push/down", push.base)))
        .await;
    push.script("/push/down", &[(502, None), (502, None)]);
    let notifier = scene.notifier(Secrets::default());
    let id = scene.request("Refund 6.00").await;
    assert_eq!(notifier.round().await.unwrap().retried, 1);
    scene.app.clock.advance(2);
    assert_eq!(notifier.round().await.unwrap().failed, 1);
    let failed = scene.audit(&id, kind::NOTIFICATION_FAILED).await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["attempts"], 2);
    assert!(failed[0]["error"].as_str().unwrap().contains("HTTP 502"));
    scene.app.clock.advance(3600);
    assert_eq!(notifier.round().await.unwrap().claimed, 0, "never again");
}

#[tokio::test]
async fn gone_subscriptions_are_removed() {
    let push = StandIn::start().await;
    let scene = Scene::new(|_| {}).await;
    for path in ["/push/gone-404", "/push/gone-410", "/push/fine"] {
        scene
            .subscribe(keys_only(&format!("{}{path}", push.base)))
            .await;
    }
    push.script("/push/gone-404", &[(404, None)]);
    push.script("/push/gone-410", &[(410, None)]);
    let notifier = scene.notifier(Secrets::default());
    let id = scene.request("Refund 7.00").await;
    let round = notifier.round().await.unwrap();
    assert_eq!((round.sent, round.failed), (1, 2));
    let left = scene
        .app
        .state
        .store
        .push_subscriptions(&scene.device_id)
        .await
        .unwrap();
    let left: Vec<_> = left.iter().map(|s| s.endpoint.as_str()).collect();
    assert_eq!(left, [format!("{}/push/fine", push.base)]);
    let failed = scene.audit(&id, kind::NOTIFICATION_FAILED).await;
    assert_eq!(failed.len(), 2);
    assert!(failed.iter().all(|f| f["subscription_removed"] == true));
    // The closed message goes only where a subscription is left.
    push.drain().await;
    scene.withdraw(&id).await;
    let round = notifier.round().await.unwrap();
    assert_eq!(round.sent, 1);
    let closed = push.drain().await;
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].path, "/push/fine");
    let states: Vec<_> = scene
        .app
        .state
        .store
        .deliveries(&id)
        .await
        .unwrap()
        .iter()
        .map(|d| d.state)
        .collect();
    assert!(
        states.iter().all(|s| *s != DeliveryState::Queued),
        "{states:?}"
    );
}

#[tokio::test]
async fn a_request_closed_before_sending_is_not_pushed() {
    let push = StandIn::start().await;
    let scene = Scene::new(|_| {}).await;
    scene
        .subscribe(keys_only(&format!("{}/push/sub", push.base)))
        .await;
    let notifier = scene.notifier(Secrets::default());
    let id = scene.request("Refund 8.00").await;
    scene.withdraw(&id).await;
    assert_eq!(notifier.round().await.unwrap().sent, 0);
    assert!(
        push.drain().await.is_empty(),
        "nothing to show, nothing to close"
    );
}
