//! Connections: a client that sends its request head too slowly is cut off, and
//! connections beyond `limits.max_connections` wait until one ends.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::chain::keys;
use crate::support::gateway::{Setup, TestGateway};
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

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";

#[tokio::test]
async fn a_client_that_sends_its_headers_too_slowly_is_cut_off() {
    let (_service, gw) = gateway_with("header_timeout = \"1s\"").await;
    // A well-behaved client is served over the real listener.
    let mut ok = TcpStream::connect(gw.addr).await.unwrap();
    ok.write_all(HEALTHZ).await.unwrap();
    let mut answer = String::new();
    ok.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // A slow one sends part of its head and stalls: the gateway must not wait for ever.
    let mut slow = TcpStream::connect(gw.addr).await.unwrap();
    slow.write_all(b"POST /v1/invoke HTTP/1.1\r\nHost: t\r\n")
        .await
        .unwrap();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(20), slow.read_to_end(&mut rest)).await;
    assert!(
        closed.is_ok(),
        "the connection was still open 20 s after a 1 s header timeout"
    );
    let text = String::from_utf8_lossy(&rest);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_until_one_ends() {
    // Idle connections would be cut after the header timeout: make it longer than the
    // test's own bound, so that only the end of a connection can free a place.
    let (_service, gw) = gateway_with("max_connections = 2\nheader_timeout = \"120s\"").await;
    // Two connections are open and idle: the gateway is full.
    let first = TcpStream::connect(gw.addr).await.unwrap();
    let mut second = TcpStream::connect(gw.addr).await.unwrap();
    // The second is served, so both have been accepted.
    second
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 12];
    second.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    // A third connects (the kernel queues it) but is not served while both stay open.
    let mut third = TcpStream::connect(gw.addr).await.unwrap();
    third.write_all(HEALTHZ).await.unwrap();
    let mut byte = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(500), third.read(&mut byte)).await;
    assert!(early.is_err(), "a connection beyond the limit was served");
    let metrics = gw.gateway.state().metrics.render();
    assert!(
        metrics.contains("countersign_gateway_open_connections 2\n"),
        "{metrics}"
    );
    // One ends: the third is accepted and answered (well before any header timeout).
    drop(first);
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(60), third.read_to_string(&mut answer))
        .await
        .expect("the third connection was not served after one ended")
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}
