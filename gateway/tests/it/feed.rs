//! Following the revocation feed: live events, keep-alives, reconnection, catching up
//! by cursor, and persistence across restarts.

use crate::payments::{REFUND_ARGS, refund, world};
use crate::support::chain::container;
use crate::support::eventually;
use crate::support::gateway::{TestGateway, assert_refused};

#[tokio::test]
async fn keep_alives_keep_the_view_fresh() {
    let w = world().await;
    let state = w.gw.gateway.state().clone();
    let start = state.view.last_sync().unwrap();
    w.gw.clock.advance(20);
    w.service.keep_alive();
    eventually("the keep-alive", || {
        state.view.last_sync() == Some(start + 20)
    })
    .await;
    w.gw.clock.advance(30);
    assert!(
        !state.is_stale(),
        "30 s after the last keep-alive is still fresh"
    );
    w.gw.clock.advance(1);
    assert!(state.is_stale());
}

#[tokio::test]
async fn a_dropped_stream_is_reconnected_and_caught_up_by_cursor() {
    let w = world().await;
    let (inv, proofs) = refund(&w.keys, REFUND_ARGS);
    // Missed by the live stream, then the stream drops: the gateway must catch up.
    let cursor = w.service.revoke_quietly(&proofs[2].cid);
    w.service.hang_up();
    w.gw.wait_cursor(cursor).await;
    eventually("the stream to be reopened", || {
        w.service.streams() == [0, 1]
    })
    .await;
    assert_eq!(w.service.polls(), vec![0, 0]);
    assert_refused(
        &w.gw.invoke(&container(&inv, &proofs)).await,
        403,
        "Revoked",
    );
    assert_eq!(w.upstream.count(), 0);
}

#[tokio::test]
async fn revocations_survive_a_restart_and_the_cursor_is_kept() {
    let w = world().await;
    let (inv, proofs) = refund(&w.keys, REFUND_ARGS);
    let first = w.service.revoke(&proofs[0].cid);
    w.gw.wait_cursor(first).await;
    drop(w.gw);
    let second = w.service.revoke_quietly(&proofs[1].cid);
    let gw = TestGateway::start(&w.setup).await;
    gw.wait_cursor(second).await;
    // The restarted gateway asked only for what came after what it had stored.
    assert_eq!(w.service.polls().last(), Some(&first));
    let view = &gw.gateway.state().view;
    assert!(view.is_revoked(&proofs[0].cid) && view.is_revoked(&proofs[1].cid));
    assert_refused(&gw.invoke(&container(&inv, &proofs)).await, 403, "Revoked");
}
