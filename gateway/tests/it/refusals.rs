//! Each refusal on its own, with a precise kind, and nothing sent upstream.

use countersign_core::envelope::{self, TokenKind};
use countersign_core::{Map, Value};

use crate::payments::{REFUND_ARGS, REFUND_POLICY, World, refund, world, world_at};
use crate::support::chain::{Call, Keys, Link, NOW, approved, args, container, keys};
use crate::support::eventually;
use crate::support::gateway::assert_refused;

/// Asserts the refusal and that the upstream saw nothing.
async fn refused(w: &World, text: &str, status: u16, kind: &str) -> serde_json::Value {
    let answer = w.gw.invoke(text).await;
    assert_refused(&answer, status, kind);
    assert_eq!(w.upstream.count(), 0, "nothing may reach the upstream");
    answer.1
}

#[tokio::test]
async fn tampered_args_break_the_signature() {
    let w = world().await;
    let (inv, proofs) = refund(&w.keys, REFUND_ARGS);
    // The agent's signed invocation, with the amount changed and the signature kept.
    let mut changed = inv.token.clone();
    changed.args.insert("amount", Value::from(1i64));
    let mut bytes = envelope::seal(
        TokenKind::Invocation,
        changed.to_payload(),
        &w.keys.stranger,
    );
    bytes[3..67].copy_from_slice(&inv.bytes[3..67]);
    let mut forged = inv.clone();
    forged.bytes = bytes;
    refused(&w, &container(&forged, &proofs), 403, "InvalidSignature").await;
}

#[tokio::test]
async fn an_amount_above_the_policy_is_refused() {
    let w = world().await;
    let (inv, proofs) = refund(&w.keys, r#"{"charge": "ch_1", "amount": 4901}"#);
    let body = refused(&w, &container(&inv, &proofs), 403, "MatchError").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains(".amount"),
        "{body}"
    );
}

#[tokio::test]
async fn an_invocation_for_another_gateway_is_refused() {
    let w = world().await;
    let proofs = approved(&w.keys, "/payment/refund", REFUND_POLICY, None);
    let mut call = Call::new(&w.keys, "/payment/refund", args(REFUND_ARGS));
    call.to = w.keys.stranger.did();
    let inv = call.sign(&proofs);
    refused(&w, &container(&inv, &proofs), 403, "InvalidAudience").await;
}

#[tokio::test]
async fn a_subject_the_gateway_does_not_serve_is_refused() {
    let w = world().await;
    let k = keys();
    let stranger_owned = Keys {
        owner: k.stranger.clone(),
        ..k
    };
    let proofs = approved(&stranger_owned, "/payment/refund", REFUND_POLICY, None);
    let inv = Call::new(&stranger_owned, "/payment/refund", args(REFUND_ARGS)).sign(&proofs);
    refused(&w, &container(&inv, &proofs), 403, "UntrustedSubject").await;
}

#[tokio::test]
async fn an_expired_invocation_is_refused() {
    let w = world_at(NOW + 60).await;
    let (inv, proofs) = refund(&w.keys, REFUND_ARGS);
    refused(&w, &container(&inv, &proofs), 403, "Expired").await;
}

#[tokio::test]
async fn a_delegation_not_yet_valid_is_refused() {
    let w = world().await;
    let owner = w.keys.owner.did();
    let standing = Link::new(&w.keys.owner, w.keys.device.did(), owner, "/", "[]").sign();
    let mut approval = Link::new(
        &w.keys.device,
        w.keys.service.did(),
        owner,
        "/payment/refund",
        REFUND_POLICY,
    );
    approval.not_before = Some(NOW + 30);
    let issued = Link::new(
        &w.keys.service,
        w.keys.agent.did(),
        owner,
        "/payment/refund",
        REFUND_POLICY,
    );
    let proofs = vec![standing, approval.sign(), issued.sign()];
    let inv = Call::new(&w.keys, "/payment/refund", args(REFUND_ARGS)).sign(&proofs);
    refused(&w, &container(&inv, &proofs), 403, "TooEarly").await;
}

#[tokio::test]
async fn a_proof_revoked_through_the_feed_is_refused() {
    let w = world().await;
    let (inv, proofs) = refund(&w.keys, REFUND_ARGS);
    let cursor = w.service.revoke(&proofs[1].cid);
    w.gw.wait_cursor(cursor).await;
    let body = refused(&w, &container(&inv, &proofs), 403, "Revoked").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&proofs[1].cid.to_string())
    );
}

#[tokio::test]
async fn a_stale_revocation_view_refuses_everything_until_it_is_fresh() {
    let w = world().await;
    let (inv, proofs) = refund(&w.keys, REFUND_ARGS);
    w.gw.clock.advance(31);
    refused(&w, &container(&inv, &proofs), 503, "StaleRevocations").await;
    // A keep-alive on the stream brings the view up to date again.
    w.service.keep_alive();
    let state = w.gw.gateway.state().clone();
    eventually("a fresh view", || !state.is_stale()).await;
    assert_eq!(w.gw.invoke(&container(&inv, &proofs)).await.0, 200);
}

#[tokio::test]
async fn an_args_key_the_route_does_not_map_is_refused() {
    let w = world().await;
    let (inv, proofs) = refund(
        &w.keys,
        r#"{"charge": "ch_1", "amount": 4900, "reverse_transfer": true}"#,
    );
    let body = refused(&w, &container(&inv, &proofs), 400, "InvalidArgs").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("reverse_transfer"),
        "{body}"
    );
}

#[tokio::test]
async fn an_invocation_that_never_expires_is_refused() {
    let w = world().await;
    let proofs = approved(&w.keys, "/payment/refund", REFUND_POLICY, None);
    let mut call = Call::new(&w.keys, "/payment/refund", args(REFUND_ARGS));
    call.expiration = None;
    refused(
        &w,
        &container(&call.sign(&proofs), &proofs),
        403,
        "NoExpiry",
    )
    .await;
}

#[tokio::test]
async fn an_invocation_living_too_long_is_refused() {
    let w = world().await;
    let proofs = approved(&w.keys, "/payment/refund", REFUND_POLICY, None);
    let mut call = Call::new(&w.keys, "/payment/refund", args(REFUND_ARGS));
    call.expiration = Some(NOW + 301);
    refused(
        &w,
        &container(&call.sign(&proofs), &proofs),
        403,
        "LifetimeTooLong",
    )
    .await;
    // A late `iat` does not shorten the lifetime counted from now.
    let mut call = Call::new(&w.keys, "/payment/refund", args(REFUND_ARGS));
    call.expiration = Some(NOW + 400);
    call.issued_at = Some(NOW + 399);
    refused(
        &w,
        &container(&call.sign(&proofs), &proofs),
        403,
        "LifetimeTooLong",
    )
    .await;
}

#[tokio::test]
async fn a_command_without_a_route_is_refused() {
    let w = world().await;
    let proofs = approved(&w.keys, "/payment", "[]", None);
    let call = Call::new(&w.keys, "/payment/refund/partial", args(REFUND_ARGS));
    let body = refused(&w, &container(&call.sign(&proofs), &proofs), 404, "NoRoute").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/payment/refund"),
        "{body}"
    );
}

#[tokio::test]
async fn a_container_without_its_proofs_is_refused() {
    let w = world().await;
    let (inv, proofs) = refund(&w.keys, REFUND_ARGS);
    refused(&w, &container(&inv, &proofs[..2]), 400, "UnavailableProof").await;
    let none: Map = Map::new();
    let inv = Call::new(&w.keys, "/payment/refund", none).sign(&[]);
    refused(&w, &container(&inv, &[]), 403, "InvalidClaim").await;
}
