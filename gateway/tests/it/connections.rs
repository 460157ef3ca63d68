//! Connections, as the service's are bounded: a client that sends its request head too
//! slowly is cut off, and connections beyond `limits.max_connections` wait until one ends.

use crate::support::chain::keys;
use crate::support::gateway::{Setup, TestGateway};
use crate::support::listener;
use crate::support::service::FakeService;

/// A gateway with a noop route and the given `[limits]` lines.
async fn gateway_with(limits: &str) -> (FakeService, TestGateway) {
    let service = FakeService::start(keys().service.did()).await;
    let setup = Setup::new(
        &service,
        &format!("[limits]\n{limits}\n[[routes]]\ncommand = \"/payment/refund\"\n[routes.noop]\n"),
    );
    let gw = TestGateway::start(&setup).await;
    (service, gw)
}

#[tokio::test]
async fn a_client_that_sends_its_headers_too_slowly_is_cut_off() {
    let (_service, gw) = gateway_with("header_timeout = \"1s\"").await;
    listener::assert_stalled_heads_are_cut(gw.addr, b"POST /v1/invoke HTTP/1.1\r\nHost: t\r\n")
        .await;
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_until_one_ends() {
    let (_service, gw) = gateway_with("max_connections = 2\nheader_timeout = \"120s\"").await;
    let metrics = || gw.gateway.state().metrics.render();
    listener::assert_connections_beyond_two_wait(
        gw.addr,
        metrics,
        "countersign_gateway_open_connections 2\n",
    )
    .await;
}
