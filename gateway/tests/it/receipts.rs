//! Receipts: durable before the upstream call, retried until the service takes them,
//! and never lost to a crash.

use countersign_gateway::store::{Claim, Store};

use crate::payments::{REFUND_ARGS, refund, world};
use crate::support::chain::{NOW, container, keys};
use crate::support::gateway::{Setup, TestGateway, assert_refused};
use crate::support::service::FakeService;
use crate::support::upstream::Upstream;

#[tokio::test]
async fn receipts_are_retried_until_the_service_takes_them() {
    let w = world().await;
    w.service.fail_receipts(3);
    let (inv, proofs) = refund(&w.keys, REFUND_ARGS);
    assert_eq!(w.gw.invoke(&container(&inv, &proofs)).await.0, 200);
    w.service.wait_receipts(1).await;
    assert_eq!(w.service.receipt_tokens().len(), 1);
    let store = w.gw.gateway.state().store.clone();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !store.pending(10).await.unwrap().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the receipt to leave the outbox"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(store.inflight().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_service_that_finds_a_batch_too_large_gets_smaller_ones() {
    let w = world().await;
    // Receipts pile up while the service refuses them.
    w.service.fail_receipts(usize::MAX);
    let mut cids = Vec::new();
    for _ in 0..10 {
        let (inv, proofs) = refund(&w.keys, REFUND_ARGS);
        assert_eq!(w.gw.invoke(&container(&inv, &proofs)).await.0, 200);
        cids.push(inv.cid.to_string());
    }
    // Outcomes are queued just after the answer: wait until all ten are.
    let store = w.gw.gateway.state().store.clone();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while store.pending(100).await.unwrap().len() < 10 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "ten receipts queued"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    w.service.limit_receipts_per_token(3);
    w.service.fail_receipts(0);
    w.service.wait_receipts(10).await;
    let tokens = w.service.receipt_tokens();
    let delivered = w.service.receipts(&w.keys.gateway.did());
    let mut got: Vec<String> = delivered.iter().map(|r| r.invocation.clone()).collect();
    got.sort();
    cids.sort();
    assert_eq!(got, cids, "every receipt once");
    assert!(
        tokens.len() >= 4,
        "at most 3 receipts a token: {} tokens",
        tokens.len()
    );
}

#[tokio::test]
async fn a_call_under_way_at_a_crash_is_reported_as_unknown_and_never_repeated() {
    let keys = keys();
    let service = FakeService::start(keys.service.did()).await;
    let upstream = Upstream::start().await;
    let setup = Setup::new(&service, &crate::payments::routes(&upstream.url));
    let (inv, proofs) = refund(&keys, REFUND_ARGS);
    // A previous run claimed the invocation, then stopped before the call ended.
    let data = setup.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let store = Store::open(&data, NOW as i64).await.unwrap();
    let claim = Claim {
        cid: inv.cid.clone(),
        route: "/payment/refund".into(),
        expires_at: NOW as i64 + 60,
        at: NOW as i64,
    };
    assert!(store.claim(claim).await.unwrap());
    drop(store);

    let gw = TestGateway::start(&setup).await;
    service.wait_receipts(1).await;
    let receipt = &service.receipts(&keys.gateway.did())[0];
    assert_eq!(receipt.invocation, inv.cid.to_string());
    assert_eq!((receipt.outcome.as_str(), receipt.status), ("unknown", 0));
    // The invocation was claimed: it is not run again.
    assert_refused(&gw.invoke(&container(&inv, &proofs)).await, 409, "Replayed");
    assert_eq!(upstream.count(), 0);
}

#[tokio::test]
async fn refusals_after_validation_are_reported_once() {
    let w = world().await;
    let (inv, proofs) = refund(&w.keys, r#"{"charge": "ch_1", "amount": 4900, "x": 1}"#);
    let text = container(&inv, &proofs);
    assert_refused(&w.gw.invoke(&text).await, 400, "InvalidArgs");
    assert_refused(&w.gw.invoke(&text).await, 400, "InvalidArgs");
    // An invalid chain is no one's business but the caller's: no receipt.
    let (bad, bad_proofs) = refund(&w.keys, r#"{"charge": "ch_1", "amount": 9999}"#);
    assert_refused(
        &w.gw.invoke(&container(&bad, &bad_proofs)).await,
        403,
        "MatchError",
    );
    let (ok, ok_proofs) = refund(&w.keys, REFUND_ARGS);
    assert_eq!(w.gw.invoke(&container(&ok, &ok_proofs)).await.0, 200);
    w.service.wait_receipts(2).await;
    let receipts = w.service.receipts(&w.keys.gateway.did());
    let refused: Vec<_> = receipts.iter().filter(|r| r.outcome == "refused").collect();
    assert_eq!(refused.len(), 1, "{receipts:?}");
    assert_eq!(refused[0].invocation, inv.cid.to_string());
    assert_eq!(refused[0].error.as_deref(), Some("InvalidArgs"));
    assert!(receipts.iter().all(|r| r.invocation != bad.cid.to_string()));
}
