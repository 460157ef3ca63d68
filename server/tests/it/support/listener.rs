//! Probes, over real sockets, of a listener served by `countersign_server::listen`: the
//! service's tests and the gateway's use the same ones.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";

/// With a header timeout of a second: a well-behaved client is served, and one that sends
/// `partial_head` and stalls is cut off (closed, or answered 408) well within 20 s.
pub async fn assert_stalled_heads_are_cut(addr: SocketAddr, partial_head: &[u8]) {
    let mut ok = TcpStream::connect(addr).await.unwrap();
    ok.write_all(HEALTHZ).await.unwrap();
    let mut answer = String::new();
    ok.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(partial_head).await.unwrap();
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

/// With `max_connections = 2` (and a header timeout longer than this probe's bounds, so
/// that only the end of a connection can free a place): while two connections stay open
/// a third is not served, `metrics()` then contains `open_gauge` (the gauge's line saying
/// 2), and once one of the two closes the third is answered.
pub async fn assert_connections_beyond_two_wait(
    addr: SocketAddr,
    metrics: impl Fn() -> String,
    open_gauge: &str,
) {
    let first = TcpStream::connect(addr).await.unwrap();
    let mut second = TcpStream::connect(addr).await.unwrap();
    // The second is served, so both have been accepted.
    second
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 12];
    second.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    // A third connects (the kernel queues it) but is not served while both stay open.
    let mut third = TcpStream::connect(addr).await.unwrap();
    third.write_all(HEALTHZ).await.unwrap();
    let mut byte = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(500), third.read(&mut byte)).await;
    assert!(early.is_err(), "a connection beyond the limit was served");
    let text = metrics();
    assert!(text.contains(open_gauge), "{open_gauge:?} in\n{text}");
    // One ends: the third is accepted and answered.
    drop(first);
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(60), third.read_to_string(&mut answer))
        .await
        .expect("the third connection was not served after one ended")
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    drop(second);
}
