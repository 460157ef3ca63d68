//! Store cases for the notification outbox: messages recorded with the changes of
//! requests, fan-out to subscriptions and channels, exclusive claims with leases, retries,
//! and deliveries ended together with their audit entries.

use std::collections::HashSet;

use countersign_server::audit::kind;
use countersign_server::store::{
    Channel, ClaimSpec, CreateLimits, Delivery, DeliveryEnd, DeliveryState, KillTarget,
    MessageKind, PushSubscription, Store, StoreError,
};

use super::fixtures::{
    NO_LIMITS, REQUEST_TTL, T0, TestDb, approval, code_hash, denial, device, did, event, pairing,
    request,
};

const LEASE: i64 = 60;

fn spec(now: i64, limit: u32, channels: &[Channel]) -> ClaimSpec {
    ClaimSpec {
        now,
        lease: LEASE,
        limit,
        channels: channels.to_vec(),
    }
}

async fn claim(s: &dyn Store, now: i64, channels: &[Channel]) -> Vec<Delivery> {
    s.claim_deliveries(&spec(now, 100, channels)).await.unwrap()
}

fn subscription(endpoint: &str, device_id: &str) -> PushSubscription {
    PushSubscription {
        endpoint: endpoint.to_owned(),
        device_id: device_id.to_owned(),
        p256dh: vec![4; 65],
        auth: vec![7; 16],
        created_at: T0,
        updated_at: T0,
    }
}

async fn pair(s: &dyn Store, id: &str, n: u8) {
    let (pairing_id, code) = (format!("p-{id}"), format!("code-{id}"));
    let d = device(id, n, Vec::new());
    s.create_pairing(&pairing(&pairing_id, &code, T0 + 600))
        .await
        .unwrap();
    s.claim_pairing(&code_hash(&code), &d.did, &d.name, T0 + 1)
        .await
        .unwrap();
    s.confirm_pairing(&pairing_id, &d, &[]).await.unwrap();
}

fn summary(list: &[Delivery]) -> Vec<(String, MessageKind, Channel)> {
    list.iter()
        .map(|d| (d.request_id.clone(), d.kind, d.channel))
        .collect()
}

async fn audit_count(s: &dyn Store) -> i64 {
    s.audit_head().await.unwrap().0
}

pub async fn outbox_is_written_with_request_changes(db: TestDb) {
    let s = db.store();
    let hook = [Channel::Webhook];
    for id in ["r1", "r2", "r3", "r4", "r5"] {
        s.create_request(&request(id, 10, T0), NO_LIMITS, &[])
            .await
            .unwrap();
    }
    // A creation refused by its limits records no message either.
    let full = CreateLimits {
        max_pending: 5,
        rate_per_min: 100,
    };
    let refused = s.create_request(&request("r6", 10, T0), full, &[]).await;
    assert!(matches!(refused, Err(StoreError::TooManyPending)));
    let pending = claim(&*s, T0, &hook).await;
    let ids: Vec<_> = pending.iter().map(|d| d.request_id.as_str()).collect();
    assert_eq!(ids, ["r1", "r2", "r3", "r4", "r5"]);
    assert!(
        pending
            .iter()
            .all(|d| d.kind == MessageKind::Pending && d.attempts == 1)
    );
    for d in &pending {
        assert!(
            s.finish_delivery(d, &DeliveryEnd::Sent, T0, &[])
                .await
                .unwrap()
        );
    }
    // Every way a request ends records its `closed` message.
    s.approve("r1", &approval(T0 + 1), &[]).await.unwrap();
    s.deny("r2", &denial(T0 + 1), &[]).await.unwrap();
    s.withdraw("r3", &did(10), T0 + 1, &[]).await.unwrap();
    s.kill(KillTarget::Agent(did(10)), T0 + 2, &[])
        .await
        .unwrap();
    let closed = claim(&*s, T0 + 3, &hook).await;
    let ids: HashSet<_> = closed.iter().map(|d| d.request_id.as_str()).collect();
    assert_eq!(ids, HashSet::from(["r1", "r2", "r3", "r4", "r5"]));
    assert!(closed.iter().all(|d| d.kind == MessageKind::Closed));
    for d in &closed {
        assert!(
            s.finish_delivery(d, &DeliveryEnd::Sent, T0, &[])
                .await
                .unwrap()
        );
    }
    // Expiry too, including a decision that finds the request expired.
    s.create_request(&request("r7", 11, T0), NO_LIMITS, &[])
        .await
        .unwrap();
    s.create_request(&request("r8", 11, T0), NO_LIMITS, &[])
        .await
        .unwrap();
    for d in claim(&*s, T0 + 4, &hook).await {
        s.finish_delivery(&d, &DeliveryEnd::Sent, T0, &[])
            .await
            .unwrap();
    }
    let late = T0 + REQUEST_TTL;
    assert!(s.approve("r7", &approval(late), &[]).await.is_err());
    assert_eq!(s.expire_due(late).await.unwrap(), ["r8"]);
    let expired = claim(&*s, late, &hook).await;
    assert_eq!(
        summary(&expired),
        [
            ("r7".into(), MessageKind::Closed, Channel::Webhook),
            ("r8".into(), MessageKind::Closed, Channel::Webhook)
        ]
    );
}

pub async fn outbox_fans_out_to_active_subscriptions(db: TestDb) {
    let s = db.store();
    pair(&*s, "dev-a", 20).await;
    pair(&*s, "dev-b", 21).await;
    for (endpoint, dev) in [
        ("https://push.test/a1", "dev-a"),
        ("https://push.test/a2", "dev-a"),
    ] {
        s.put_push_subscription(&subscription(endpoint, dev))
            .await
            .unwrap();
    }
    s.put_push_subscription(&subscription("https://push.test/b1", "dev-b"))
        .await
        .unwrap();
    s.remove_device("dev-b", T0, &[]).await.unwrap();
    // Refreshing keeps one row per endpoint, with the new keys.
    let mut fresh = subscription("https://push.test/a2", "dev-a");
    fresh.auth = vec![9; 16];
    fresh.updated_at = T0 + 5;
    s.put_push_subscription(&fresh).await.unwrap();
    assert_eq!(s.push_subscriptions("dev-a").await.unwrap().len(), 2);

    s.create_request(&request("r1", 10, T0), NO_LIMITS, &[])
        .await
        .unwrap();
    let got = claim(&*s, T0, &[Channel::Ntfy, Channel::Webhook]).await;
    let mut targets: Vec<_> = got.iter().map(|d| (d.channel, d.target.clone())).collect();
    targets.sort_by_key(|(c, t)| (c.as_str(), t.clone()));
    assert_eq!(
        targets,
        [
            (Channel::Ntfy, String::new()),
            (Channel::Push, "https://push.test/a1".into()),
            (Channel::Push, "https://push.test/a2".into()),
            (Channel::Webhook, String::new()),
        ]
    );
    let a2 = got.iter().find(|d| d.target.ends_with("/a2")).unwrap();
    assert_eq!(a2.subscription.as_ref().unwrap().auth, vec![9; 16]);
    // A closed message goes where the pending one went, ntfy excepted.
    for d in &got {
        s.finish_delivery(d, &DeliveryEnd::Sent, T0, &[])
            .await
            .unwrap();
    }
    s.deny("r1", &denial(T0 + 1), &[]).await.unwrap();
    let closed = claim(&*s, T0 + 1, &[Channel::Ntfy, Channel::Webhook]).await;
    let channels: Vec<_> = closed.iter().map(|d| d.channel).collect();
    assert_eq!(channels, [Channel::Push, Channel::Push, Channel::Webhook]);
    assert!(
        s.remove_push_subscription("dev-a", "https://push.test/a1")
            .await
            .unwrap()
    );
    assert!(
        !s.remove_push_subscription("dev-a", "https://push.test/a1")
            .await
            .unwrap()
    );
}

pub async fn claims_are_exclusive_under_concurrency(db: TestDb) {
    let s = db.store();
    for i in 0..30 {
        s.create_request(&request(&format!("r{i:02}"), 10, T0), NO_LIMITS, &[])
            .await
            .unwrap();
    }
    let mut workers = Vec::new();
    for _ in 0..6 {
        let s = s.clone();
        workers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = s
                    .claim_deliveries(&spec(T0, 4, &[Channel::Webhook]))
                    .await
                    .unwrap();
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got.into_iter().map(|d| d.id));
            }
        }));
    }
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), 30, "every delivery claimed once: {all:?}");
    assert_eq!(unique.len(), 30);
}

pub async fn leases_expire_and_lost_claims_change_nothing(db: TestDb) {
    let s = db.store();
    s.create_request(&request("r1", 10, T0), NO_LIMITS, &[])
        .await
        .unwrap();
    let first = claim(&*s, T0, &[Channel::Webhook]).await.remove(0);
    assert!(
        claim(&*s, T0 + LEASE - 1, &[Channel::Webhook])
            .await
            .is_empty()
    );
    // The first worker went silent: once its lease is over the delivery is claimed again.
    let second = claim(&*s, T0 + LEASE, &[Channel::Webhook]).await.remove(0);
    assert_eq!((second.id, second.attempts), (first.id, 2));
    let before = audit_count(&*s).await;
    let sent = [event(T0 + LEASE, kind::NOTIFICATION_SENT, "r1")];
    assert!(
        !s.finish_delivery(&first, &DeliveryEnd::Sent, T0, &sent)
            .await
            .unwrap()
    );
    assert!(!s.retry_delivery(&first, T0 + 99, "late").await.unwrap());
    assert_eq!(
        audit_count(&*s).await,
        before,
        "a lost claim appends nothing"
    );
    assert!(
        s.finish_delivery(&second, &DeliveryEnd::Sent, T0 + LEASE, &sent)
            .await
            .unwrap()
    );
    assert_eq!(audit_count(&*s).await, before + 1);
    let stored = s.deliveries("r1").await.unwrap();
    assert_eq!(stored[0].state, DeliveryState::Sent);
    assert_eq!(stored[0].done_at, Some(T0 + LEASE));
    // Acknowledged: never claimed, ended or sent again.
    assert!(
        claim(&*s, T0 + 10 * LEASE, &[Channel::Webhook])
            .await
            .is_empty()
    );
    assert!(
        !s.finish_delivery(&second, &DeliveryEnd::Sent, T0, &sent)
            .await
            .unwrap()
    );
    assert_eq!(audit_count(&*s).await, before + 1);
}

pub async fn retries_wait_and_closed_never_overtakes_pending(db: TestDb) {
    let s = db.store();
    s.create_request(&request("r1", 10, T0), NO_LIMITS, &[])
        .await
        .unwrap();
    let d = claim(&*s, T0, &[Channel::Webhook]).await.remove(0);
    assert!(s.retry_delivery(&d, T0 + 10, "HTTP 503").await.unwrap());
    assert!(claim(&*s, T0 + 9, &[Channel::Webhook]).await.is_empty());
    // Decided while the pending message waits for its retry: the closed message waits too.
    s.deny("r1", &denial(T0 + 9), &[]).await.unwrap();
    let due = claim(&*s, T0 + 10, &[Channel::Webhook]).await;
    assert_eq!(
        summary(&due),
        [("r1".into(), MessageKind::Pending, Channel::Webhook)]
    );
    assert_eq!(due[0].last_error.as_deref(), Some("HTTP 503"));
    let skipped = DeliveryEnd::Skipped("closed".into());
    assert!(
        s.finish_delivery(&due[0], &skipped, T0 + 10, &[])
            .await
            .unwrap()
    );
    let closed = claim(&*s, T0 + 10, &[Channel::Webhook]).await;
    assert_eq!(
        summary(&closed),
        [("r1".into(), MessageKind::Closed, Channel::Webhook)]
    );

    // A pending message never attempted is skipped when its request closes first.
    s.create_request(&request("r2", 10, T0), NO_LIMITS, &[])
        .await
        .unwrap();
    s.create_request(&request("r3", 10, T0), NO_LIMITS, &[])
        .await
        .unwrap();
    // One message fanned out and claimed per call: r3's is still waiting when it closes.
    let only = s
        .claim_deliveries(&spec(T0 + 11, 1, &[Channel::Webhook]))
        .await
        .unwrap();
    assert_eq!(
        summary(&only),
        [("r2".into(), MessageKind::Pending, Channel::Webhook)]
    );
    s.withdraw("r3", &did(10), T0 + 12, &[]).await.unwrap();
    let rest = claim(&*s, T0 + 12, &[Channel::Webhook]).await;
    let r3 = s.deliveries("r3").await.unwrap();
    assert!(rest.iter().all(|d| d.request_id != "r3"), "{rest:?}");
    assert_eq!(r3.len(), 1);
    assert_eq!(r3[0].state, DeliveryState::Skipped);
}

pub async fn gone_subscriptions_are_removed_with_the_audit_entry(db: TestDb) {
    let s = db.store();
    pair(&*s, "dev-a", 20).await;
    s.put_push_subscription(&subscription("https://push.test/a1", "dev-a"))
        .await
        .unwrap();
    s.create_request(&request("r1", 10, T0), NO_LIMITS, &[])
        .await
        .unwrap();
    let d = claim(&*s, T0, &[]).await.remove(0);
    assert_eq!(d.subscription.as_ref().unwrap().device_id, "dev-a");
    let before = audit_count(&*s).await;
    let failed = [event(T0, kind::NOTIFICATION_FAILED, "r1")];
    let gone = DeliveryEnd::Gone("HTTP 410".into());
    assert!(s.finish_delivery(&d, &gone, T0, &failed).await.unwrap());
    assert!(s.push_subscriptions("dev-a").await.unwrap().is_empty());
    assert_eq!(audit_count(&*s).await, before + 1);
    let stored = s.deliveries("r1").await.unwrap();
    assert_eq!(stored[0].state, DeliveryState::Failed);
    assert_eq!(stored[0].last_error.as_deref(), Some("HTTP 410"));
    assert!(stored[0].subscription.is_none());
}
