//! Invocations per second through the gateway's HTTP endpoint, next to the core's own
//! memoized validation rate on the same cores, measured in the same run.
//!
//! The gateway runs with the `noop` adapter, its durable replay store (SQLite, WAL,
//! `synchronous = FULL`, group commit) and memoized proofs; every invocation is new (a
//! fresh nonce), so every one is validated, claimed durably and answered. Receipts go
//! to a fake service on loopback in the same process. Several clients keep HTTP/1.1
//! connections alive and send one request at a time each.
//!
//! Rounds alternate which side runs first; the ratio reported is the median of the
//! rounds' ratios, so that noise from a shared machine falls on both sides alike. Each
//! round also measures the HTTP round trip alone (`GET /healthz` on the same
//! connections): the floor that any request to the gateway pays on top of its work.

// A benchmark whose set-up fails should stop loudly.
#![allow(clippy::expect_used, clippy::unwrap_used)]

#[allow(dead_code)]
#[path = "../tests/it/support/service.rs"]
mod service;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use countersign_core::container::Container;
use countersign_core::sample::{CountingNonces, ISSUED_AT, SampleChain, refund_args};
use countersign_core::validate::{Context, Limits, NoRevocations, ProofSet, Validator};
use countersign_gateway::config::Config;
use countersign_gateway::state::AppState;
use countersign_gateway::{Gateway, Tuning};
use countersign_server::clock::ManualClock;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The allocator of the `countersign` binary, which the gateway ships in.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Concurrent client connections, unless `COUNTERSIGN_BENCH_CLIENTS` says otherwise:
/// enough invocations in flight that group commit hides the `fsync` of a shared disk.
const CLIENTS: usize = 256;

fn clients() -> usize {
    std::env::var("COUNTERSIGN_BENCH_CLIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CLIENTS)
}
/// Invocations per gateway round.
const PER_ROUND: usize = 12_000;
/// Validations per core round.
const CORE_PER_ROUND: usize = 40_000;
const ROUNDS: usize = 5;

/// One round's rates: core validations, gateway answers, gateway with every receipt
/// delivered, bare HTTP round trips.
type Round = (f64, f64, f64, f64);

fn main() {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let chain = SampleChain::build().expect("sample chain");
    eprintln!("signing {} invocations…", PER_ROUND * ROUNDS);
    let mut nonces = CountingNonces::new(1_000_000);
    let invocations: Vec<Vec<u8>> = (0..PER_ROUND * ROUNDS)
        .map(|_| {
            chain
                .invoke(refund_args(4900), &mut nonces)
                .expect("invocation")
                .bytes
        })
        .collect();
    let proofs = chain.proof_bytes();
    let requests: Vec<Vec<u8>> = invocations
        .iter()
        .map(|inv| {
            let mut tokens = vec![inv.clone()];
            tokens.extend(proofs.iter().cloned());
            http_request(&Container::new(tokens).to_text())
        })
        .collect();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = std::env::temp_dir().join(format!("cs-gw-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (addr, service, gateway) = runtime.block_on(start(&chain, &dir));

    let validator = Validator::new(Limits::default(), 1024);
    let proof_set = ProofSet::new(proofs.clone());
    let skip_core = std::env::var_os("COUNTERSIGN_BENCH_GATEWAY_ONLY").is_some();
    let core_round = || {
        if skip_core {
            1.0
        } else {
            core_rate(&validator, &proof_set, &invocations, &chain, cores)
        }
    };
    let mut rounds = Vec::new();
    let mut sent = 0;
    for round in 0..ROUNDS {
        let batch = &requests[sent..sent + PER_ROUND];
        sent += PER_ROUND;
        let stats = gateway.store.stats();
        let before = stats.totals();
        let gateway_round = || runtime.block_on(gateway_rate(addr, batch, &service, sent));
        let (core, (answered, sustained)) = if round % 2 == 0 {
            let c = core_round();
            (c, gateway_round())
        } else {
            let g = gateway_round();
            (core_round(), g)
        };
        let floor = runtime.block_on(round_trip_rate(addr, PER_ROUND));
        let after = stats.totals();
        let txns = (after.0 - before.0).max(1);
        let ops_per_txn = (after.1 - before.1) as f64 / txns as f64;
        let ms_per_txn = (after.2 - before.2).as_secs_f64() * 1000.0 / txns as f64;
        eprintln!(
            "round {round}: core {core:.0}/s, gateway {answered:.0}/s answered, \
             {sustained:.0}/s with receipts delivered, HTTP round trip alone {floor:.0}/s; \
             store: {txns} transactions of {ops_per_txn:.1} writes, {ms_per_txn:.2} ms each"
        );
        rounds.push((core, answered, sustained, floor));
    }
    let median = |f: &dyn Fn(&Round) -> f64| {
        let mut v: Vec<f64> = rounds.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "gateway invoke benchmark ({cores} cores, {} clients, noop adapter)",
        clients()
    );
    println!(
        "  core memoized validation   {:>9.0} inv/s",
        median(&|r| r.0)
    );
    println!(
        "  gateway, answered          {:>9.0} inv/s",
        median(&|r| r.1)
    );
    println!(
        "  gateway, receipts included {:>9.0} inv/s",
        median(&|r| r.2)
    );
    println!(
        "  HTTP round trip alone       {:>9.0} req/s (GET /healthz)",
        median(&|r| r.3)
    );
    println!(
        "  ratio gateway/core (median of rounds): answered {:.3}, receipts included {:.3} (target >= 0.70)",
        median(&|r| r.1 / r.0),
        median(&|r| r.2 / r.0)
    );
    // If an invocation cost exactly one validation plus one bare round trip, on the same
    // cores: the ratio the HTTP floor alone allows.
    println!(
        "  ratio allowed by validation + round trip alone: {:.3}",
        median(&|r| r.3 / (r.0 + r.3))
    );
    drop(gateway);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A fake service (feed and receipts) and the gateway, served on loopback.
async fn start(
    chain: &SampleChain,
    dir: &std::path::Path,
) -> (SocketAddr, service::FakeService, AppState) {
    let service = service::FakeService::start(chain.service.did()).await;
    std::fs::create_dir_all(dir).expect("bench dir");
    let key = dir.join("gateway.pem");
    std::fs::write(&key, chain.gateway.to_pkcs8_pem().expect("pem").as_bytes()).expect("key");
    let text = format!(
        r#"
        data_dir = "data"
        key = "gateway.pem"
        owners = ["{owner}"]
        [service]
        url = "{url}"
        [[routes]]
        command = "/payment/refund"
        [routes.noop]
        args = ["charge", "amount", "currency"]
        "#,
        owner = chain.owner.did(),
        url = service.url,
    );
    let config = Config::parse(&text, dir).expect("config");
    let clock = Arc::new(ManualClock::new(ISSUED_AT as i64 + 1));
    let tuning = Tuning::for_config(&config);
    let gateway = Gateway::start(config, clock, tuning)
        .await
        .expect("gateway");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let state = gateway.state().clone();
    tokio::spawn(gateway.serve(listener, std::future::pending()));
    while !state.view.is_live() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    (addr, service, state)
}

/// Memoized validations per second on `threads` threads.
fn core_rate(
    validator: &Validator,
    proofs: &ProofSet,
    invocations: &[Vec<u8>],
    chain: &SampleChain,
    threads: usize,
) -> f64 {
    let gateway = chain.gateway.did();
    let per_thread = CORE_PER_ROUND / threads;
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            s.spawn(move || {
                let ctx = &Context {
                    now: ISSUED_AT + 1,
                    audience: Some(gateway),
                    revocations: &NoRevocations,
                };
                for i in 0..per_thread {
                    let inv = &invocations[(t * per_thread + i) % invocations.len()];
                    assert!(validator.validate(inv, proofs, ctx).is_ok());
                }
            });
        }
    });
    (per_thread * threads) as f64 / start.elapsed().as_secs_f64()
}

/// Requests per second answered by the gateway, and per second until every receipt of
/// the round has reached the service.
async fn gateway_rate(
    addr: SocketAddr,
    requests: &[Vec<u8>],
    service: &service::FakeService,
    receipts_after: usize,
) -> (f64, f64) {
    let chunk = requests.len().div_ceil(clients());
    let parts: Vec<Vec<Vec<u8>>> = requests.chunks(chunk).map(<[_]>::to_vec).collect();
    let streams = connect(addr, parts.len()).await;
    let start = Instant::now();
    let clients: Vec<_> = streams
        .into_iter()
        .zip(parts)
        .map(|(stream, part)| tokio::spawn(client(stream, part)))
        .collect();
    for c in clients {
        c.await.expect("client task");
    }
    let answered = requests.len() as f64 / start.elapsed().as_secs_f64();
    service.wait_receipts(receipts_after).await;
    let sustained = requests.len() as f64 / start.elapsed().as_secs_f64();
    (answered, sustained)
}

/// Bare round trips per second: `GET /healthz` on as many connections as the clients.
async fn round_trip_rate(addr: SocketAddr, n: usize) -> f64 {
    let request = b"GET /healthz HTTP/1.1\r\nhost: gateway\r\n\r\n".to_vec();
    let per_client = n.div_ceil(clients());
    let streams = connect(addr, clients()).await;
    let start = Instant::now();
    let tasks: Vec<_> = streams
        .into_iter()
        .map(|stream| tokio::spawn(client(stream, vec![request.clone(); per_client])))
        .collect();
    for t in tasks {
        t.await.expect("client task");
    }
    (per_client * clients()) as f64 / start.elapsed().as_secs_f64()
}

fn http_request(container: &str) -> Vec<u8> {
    let mut req = format!(
        "POST /v1/invoke HTTP/1.1\r\nhost: gateway\r\ncontent-type: text/plain\r\n\
         content-length: {}\r\n\r\n",
        container.len()
    )
    .into_bytes();
    req.extend_from_slice(container.as_bytes());
    req
}

/// `n` connections, opened before the clock starts.
async fn connect(addr: SocketAddr, n: usize) -> Vec<tokio::net::TcpStream> {
    let mut streams = Vec::with_capacity(n);
    for _ in 0..n {
        let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        streams.push(stream);
    }
    streams
}

/// One keep-alive connection sending its requests one after another; every answer
/// must be a 200.
async fn client(mut stream: tokio::net::TcpStream, requests: Vec<Vec<u8>>) {
    let mut buf = Vec::with_capacity(16 * 1024);
    for request in requests {
        stream.write_all(&request).await.expect("write");
        buf.clear();
        let (head, length) = loop {
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).await.expect("read");
            assert!(n > 0, "the gateway closed the connection");
            buf.extend_from_slice(&chunk[..n]);
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .expect("content-length");
                break (end + 4, length);
            }
        };
        while buf.len() < head + length {
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).await.expect("read");
            assert!(n > 0, "the gateway closed the connection");
            buf.extend_from_slice(&chunk[..n]);
        }
        assert!(
            buf.starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&buf)
        );
    }
}
