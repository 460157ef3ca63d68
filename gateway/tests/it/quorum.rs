//! Quorum: a route that needs approvals from two distinct devices.

use countersign_core::delegation::Delegation;
use countersign_core::{Keypair, Map, Signed, Value};
use countersign_gateway::check::quorum::CO_APPROVALS;

use crate::payments::world;
use crate::support::chain::{Call, Keys, Link, approved, args, container};
use crate::support::gateway::assert_refused;

const COMMAND: &str = "/payment/intent/create";
const POLICY: &str =
    r#"[["==", ".customer", "cus_1"], ["<=", ".amount", 2000], ["==", ".currency", "usd"]]"#;
const ARGS: &str = r#"{"amount": 2000, "currency": "usd", "customer": "cus_1"}"#;

/// `device`'s co-approval: the owner's standing delegation to it, and its approval.
fn co_approval(
    keys: &Keys,
    device: &Keypair,
    standing_from: &Keypair,
    policy: &str,
) -> Vec<Signed<Delegation>> {
    let owner = keys.owner.did();
    let standing = Link::new(standing_from, device.did(), owner, "/payment", "[]").sign();
    let approval = Link::new(device, keys.service.did(), owner, COMMAND, policy).sign();
    vec![standing, approval]
}

fn meta(pairs: &[Vec<Signed<Delegation>>]) -> Map {
    let list = pairs
        .iter()
        .map(|pair| Value::List(pair.iter().map(|d| Value::Bytes(d.bytes.clone())).collect()))
        .collect();
    [(CO_APPROVALS, Value::List(list))].into_iter().collect()
}

/// Invokes with the co-approvals in the issued delegation's meta.
async fn invoke_with(
    w: &crate::payments::World,
    pairs: &[Vec<Signed<Delegation>>],
) -> (u16, serde_json::Value) {
    let proofs = approved(&w.keys, COMMAND, POLICY, Some(meta(pairs)));
    let inv = Call::new(&w.keys, COMMAND, args(ARGS)).sign(&proofs);
    w.gw.invoke(&container(&inv, &proofs)).await
}

#[tokio::test]
async fn two_distinct_devices_meet_a_quorum_of_two() {
    let w = world().await;
    let second = co_approval(&w.keys, &w.keys.device2, &w.keys.owner, POLICY);
    let (status, body) = invoke_with(&w, &[second]).await;
    assert_eq!(status, 200, "{body}");
    let r = &w.upstream.requests()[0];
    assert_eq!(r.path, "/v1/payment_intents");
    assert_eq!(r.body_text(), "amount=2000&currency=usd&customer=cus_1");
}

#[tokio::test]
async fn a_missing_co_approval_is_refused() {
    let w = world().await;
    let answer = invoke_with(&w, &[]).await;
    assert_refused(&answer, 403, "QuorumNotMet");
    assert_eq!(w.upstream.count(), 0);
}

#[tokio::test]
async fn the_same_device_counts_once() {
    let w = world().await;
    let again = co_approval(&w.keys, &w.keys.device, &w.keys.owner, POLICY);
    let answer = invoke_with(&w, &[again]).await;
    assert_refused(&answer, 403, "QuorumNotMet");
    assert!(
        answer.1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already counted")
    );
    assert_eq!(w.upstream.count(), 0);
}

#[tokio::test]
async fn co_approvals_that_do_not_hold_are_not_counted() {
    let w = world().await;
    let k = &w.keys;
    let narrower = co_approval(k, &k.device2, &k.owner, r#"[["<=", ".amount", 1000]]"#);
    let not_owners = co_approval(k, &k.device3, &k.stranger, POLICY);
    let answer = invoke_with(&w, &[narrower, not_owners]).await;
    assert_refused(&answer, 403, "QuorumNotMet");
    let message = answer.1["error"]["message"].as_str().unwrap();
    assert!(message.contains("violate the policy"), "{message}");
    assert!(message.contains("not from the owner"), "{message}");

    // A co-approval revoked through the feed does not count either.
    let revoked = co_approval(k, &k.device2, &k.owner, POLICY);
    let cursor = w.service.revoke(&revoked[1].cid);
    w.gw.wait_cursor(cursor).await;
    let answer = invoke_with(&w, &[revoked]).await;
    assert_refused(&answer, 403, "QuorumNotMet");
    assert!(
        answer.1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("revoked")
    );
    assert_eq!(w.upstream.count(), 0);
}
