//! ntfy and webhooks against loopback receivers: the ntfy message and its action button,
//! the webhook events and their HMAC-SHA256 signature, checked as a receiver would.

use axum::http::Method;
use countersign_server::audit::kind;
use countersign_server::notify::{Secret, Secrets};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use crate::notify::{Received, Scene, StandIn};
use crate::support::NOW;

/// Verifies `Countersign-Signature: t=…,v1=…` the way docs/NOTIFICATIONS.md tells
/// receivers to: HMAC-SHA256 over "t.body", compared in constant time, `t` recent.
fn verify_signature(got: &Received, secret: &str, now: i64, tolerance: i64) -> bool {
    let header = got.header("countersign-signature");
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("v1", value)) => v1.push(value.to_owned()),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    if (now - t).abs() > tolerance {
        return false;
    }
    v1.iter().any(|hex| {
        let Ok(expected) = data_encoding::HEXLOWER.decode(hex.as_bytes()) else {
            return false;
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(&got.body);
        mac.verify_slice(&expected).is_ok()
    })
}

#[tokio::test]
async fn ntfy_and_webhooks_get_signed_links_but_no_args() {
    let hooks = StandIn::start().await;
    let base = hooks.base.clone();
    let scene = Scene::new(move |c| {
        c.push.contact = String::new();
        c.ntfy.url = format!("{base}/ntfy/");
        c.ntfy.topic = "countersign-alerts".into();
        c.webhook.url = format!("{base}/hook");
    })
    .await;
    let notifier = scene.notifier(Secrets {
        ntfy_token: Some(Secret::new("tk_ntfy")),
        webhook_secret: Some(Secret::new("whsec_test")),
    });
    let id = scene.request("Refund 49.00").await;
    let link = format!("https://countersign.test/#/requests/{id}");
    assert_eq!(notifier.round().await.unwrap().sent, 2);
    let mut got = hooks.drain().await;
    got.sort_by(|a, b| a.path.cmp(&b.path));
    let [hook, ntfy] = <[Received; 2]>::try_from(got).unwrap();

    assert_eq!(
        (ntfy.method.clone(), ntfy.path.as_str()),
        (Method::POST, "/ntfy/")
    );
    assert_eq!(ntfy.header("authorization"), "Bearer tk_ntfy");
    let n = ntfy.json();
    assert_eq!(n["topic"], "countersign-alerts");
    assert_eq!(n["title"], "Refund 49.00");
    assert_eq!(n["priority"], 4, "high");
    assert_eq!(n["click"], link.as_str());
    assert_eq!(
        n["actions"],
        json!([{"action": "view", "label": "Review", "url": link, "clear": true}])
    );
    assert!(n["message"].as_str().unwrap().contains("billing-bot"));
    assert!(!ntfy.json().to_string().contains("ch_secret"), "no args");

    assert_eq!(hook.path, "/hook");
    assert_eq!(hook.header("content-type"), "application/json");
    assert_eq!(hook.header("countersign-event"), format!("{id}.pending"));
    assert!(verify_signature(&hook, "whsec_test", NOW, 300));
    assert!(!verify_signature(&hook, "another secret", NOW, 300));
    assert!(
        !verify_signature(&hook, "whsec_test", NOW + 301, 300),
        "too old"
    );
    assert!(
        hook.header("countersign-signature")
            .starts_with(&format!("t={NOW},v1="))
    );
    assert_eq!(
        hook.json(),
        json!({
            "type": "request.pending", "id": id, "agent": "billing-bot",
            "summary": "Refund 49.00", "expires_at": NOW + 300, "url": link,
        })
    );
    let mut tampered = hook;
    tampered.body = tampered.body.replace_ascii("49.00", "99.00");
    assert!(!verify_signature(&tampered, "whsec_test", NOW, 300));

    // The end of the request: a closed event for the webhook; ntfy cannot take a message
    // back and gets nothing.
    scene.app.clock.advance(5);
    scene.withdraw(&id).await;
    assert_eq!(notifier.round().await.unwrap().sent, 1);
    let got = hooks.drain().await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].path, "/hook");
    assert!(verify_signature(&got[0], "whsec_test", NOW + 5, 300));
    let closed = got[0].json();
    assert_eq!(closed["type"], "request.closed");
    assert_eq!(closed["state"], "withdrawn");
    assert_eq!(closed["url"], link.as_str());
    let sent = scene.audit(&id, kind::NOTIFICATION_SENT).await;
    let channels: Vec<_> = sent.iter().map(|e| e["channel"].clone()).collect();
    assert_eq!(channels.len(), 3, "{sent:?}");
}

#[tokio::test]
async fn a_webhook_without_a_secret_is_not_sent() {
    let hooks = StandIn::start().await;
    let base = hooks.base.clone();
    let scene = Scene::new(move |c| c.webhook.url = format!("{base}/hook")).await;
    let notifier = scene.notifier(Secrets::default());
    scene.request("Refund 1.00").await;
    assert_eq!(notifier.round().await.unwrap().claimed, 0);
    assert!(hooks.drain().await.is_empty());
}

trait ReplaceAscii {
    fn replace_ascii(&self, from: &str, to: &str) -> Vec<u8>;
}

impl ReplaceAscii for Vec<u8> {
    fn replace_ascii(&self, from: &str, to: &str) -> Vec<u8> {
        String::from_utf8_lossy(self).replace(from, to).into_bytes()
    }
}
