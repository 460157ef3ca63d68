//! `/v1/push`: the VAPID key, and strict checks of the subscriptions devices register.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::notify::Scene;
use crate::support::key;

const P256DH: &str =
    "BGsX0fLhLEJH-Lzm5WOkQPJ3A32BLeszoPShOUXYmMKWT-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU";
const AUTH: &str = "AAECAwQFBgcICQoLDA0ODw";

fn sub(endpoint: &str, p256dh: &str, auth: &str) -> Value {
    json!({"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}})
}

async fn post(scene: &Scene, body: Value) -> (StatusCode, Value) {
    scene
        .app
        .call(
            Method::POST,
            "/v1/push/subscriptions",
            Some(&scene.device),
            Some(body),
        )
        .await
}

#[tokio::test]
async fn subscriptions_are_registered_refreshed_and_removed() {
    let scene = Scene::new(|c| c.push.allow_insecure_endpoints = false).await;
    let endpoint = "https://push.countersign.test/wpush/1";
    let (s, v) = post(&scene, sub(endpoint, P256DH, AUTH)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["device_id"], scene.device_id.as_str());
    // Same endpoint, new keys: refreshed in place (padding tolerated).
    let (s, v) = post(&scene, sub(endpoint, P256DH, "AAECAwQFBgcICQoLDA0ODw==")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, _) = post(
        &scene,
        sub("https://push.countersign.test/wpush/2", P256DH, AUTH),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let store = &scene.app.state.store;
    assert_eq!(
        store
            .push_subscriptions(&scene.device_id)
            .await
            .unwrap()
            .len(),
        2
    );

    let delete = |endpoint: &'static str| {
        scene.app.call(
            Method::DELETE,
            "/v1/push/subscriptions",
            Some(&scene.device),
            Some(json!({ "endpoint": endpoint })),
        )
    };
    assert_eq!(delete(endpoint).await.0, StatusCode::NO_CONTENT);
    assert_eq!(delete(endpoint).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        store
            .push_subscriptions(&scene.device_id)
            .await
            .unwrap()
            .len(),
        1
    );

    // Only paired devices subscribe.
    let (s, _) = scene
        .app
        .call(
            Method::POST,
            "/v1/push/subscriptions",
            Some(&scene.app.owner),
            Some(sub(endpoint, P256DH, AUTH)),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = scene
        .app
        .call(
            Method::POST,
            "/v1/push/subscriptions",
            Some(&key(77)),
            Some(sub(endpoint, P256DH, AUTH)),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn bad_subscriptions_are_refused() {
    let scene = Scene::new(|c| c.push.allow_insecure_endpoints = false).await;
    let ok = "https://push.countersign.test/wpush/1";
    let mut not_on_curve = P256DH.to_owned();
    not_on_curve.replace_range(10..12, "AA");
    for (body, why) in [
        (
            sub("http://127.0.0.1:9/push", P256DH, AUTH),
            "allow_insecure_endpoints",
        ),
        (sub("http://push.countersign.test/x", P256DH, AUTH), "https"),
        (sub("https://10.1.2.3/x", P256DH, AUTH), "domain"),
        (sub("not a url", P256DH, AUTH), "URL"),
        (sub(ok, &P256DH[..40], AUTH), "p256dh"),
        (sub(ok, &not_on_curve, AUTH), "p256dh"),
        (sub(ok, "!!!", AUTH), "base64url"),
        (sub(ok, P256DH, "AAECAwQFBgcICQoLDA0O"), "16 bytes"),
        (json!({"endpoint": ok}), "keys"),
        (
            json!({"endpoint": ok, "keys": {"p256dh": P256DH, "auth": AUTH}, "extra": 1}),
            "extra",
        ),
    ] {
        let (s, v) = post(&scene, body.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body} → {v}");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.contains(why), "{body} → {message}");
    }
}

#[tokio::test]
async fn without_a_real_contact_push_is_refused_clearly() {
    for contact in ["", "mailto:ops@example.com"] {
        let scene = Scene::new(|c| c.push.contact = contact.into()).await;
        let (s, v) = post(&scene, sub("https://push.countersign.test/1", P256DH, AUTH)).await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
        assert_eq!(v["error"]["code"], "push_unavailable");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("[push] contact"),
            "{v}"
        );
        let (s, v) = scene
            .app
            .call(Method::GET, "/v1/push/vapid", None, None)
            .await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    }
}
