//! `countersign serve` on SQLite, killed with SIGKILL at random moments while agents ask
//! (one of them going away in the middle of its calls), the device decides, agents fetch
//! their chains and the owner revokes; restarted on the same data directory each time.
//! And the store's writes cancelled at any moment, as when a caller goes away.

use std::future::Future;
use std::sync::Arc;
use std::task::Poll;
use std::thread;
use std::time::{Duration, Instant};

use countersign_server::store::{AuditEvent, open};
use serde_json::json;

use super::{Api, Cast, Hook, Load, Rng, load_settings, rounds, seed, settle_and_check};
use crate::support::{PATIENCE, Scene, Served, free_port};

#[test]
fn the_service_killed_at_random_under_load_keeps_what_it_acknowledged() {
    let seed = seed("service kill");
    let rounds = rounds(3);
    let mut rng = Rng::new(seed);
    let hook = Arc::new(Hook::start(rng.fork()));
    let mut scene = Scene::prepare("faults-kill");
    let port = free_port();
    scene.service = format!("http://127.0.0.1:{port}");
    let settings = load_settings(&hook);
    let data = scene.dir.join("data");
    let mut served = Served::start_with(&scene, port, &data, &settings);
    let cast = Arc::new(Cast::enlist(&scene, 3));
    let api = Arc::new(Api::connect(vec![port]));

    let started = Instant::now();
    let load = Load::start(&api, &cast, &hook, &mut rng, seed);
    for round in 1..=rounds {
        thread::sleep(rng.millis(100, 1200));
        served.kill();
        let created = load.ledger.created.lock().unwrap().len();
        eprintln!("service kill: round {round}: killed after {created} requests");
        thread::sleep(rng.millis(0, 300));
        served = Served::start_with(&scene, port, &data, &settings);
    }
    thread::sleep(rng.millis(200, 800));
    let ledger = load.stop();

    let summary = settle_and_check(&scene, &api, &cast, &hook, &ledger, seed);
    let errors = ledger.server_errors.lock().unwrap().clone();
    assert!(errors.is_empty(), "5xx answers (seed {seed}): {errors:?}");
    eprintln!(
        "service kill: {rounds} kills, {:.1} s: {summary}",
        started.elapsed().as_secs_f64()
    );
    drop(served);
}

/// Polls `work` until `micros` have passed, then drops it wherever it is: what a handler
/// goes through when its caller goes away.
async fn cut_short(work: impl Future, micros: u64) {
    let mut work = std::pin::pin!(work);
    let deadline = Instant::now() + Duration::from_micros(micros);
    while Instant::now() < deadline {
        let done = std::future::poll_fn(|cx| Poll::Ready(work.as_mut().poll(cx).is_ready()));
        if done.await {
            return;
        }
        tokio::task::yield_now().await;
    }
}

/// Store writes on SQLite cancelled at every moment of their transaction: none may leave
/// its transaction open on a pooled connection (holding the write lock for good).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_cut_short_at_any_moment_never_leave_the_database_locked() {
    let dir = std::env::temp_dir().join(format!("countersign-faults-cut-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = open(&format!("sqlite:{}", dir.join("cut.db").display()))
        .await
        .unwrap();
    let event = |n: u64| {
        vec![AuditEvent::new(
            1,
            "test.cut",
            "faults",
            "cut",
            json!({"n": n}),
        )]
    };
    for n in 0..1500 {
        // 0 to 3 ms: a write here takes about as long, its commit included.
        cut_short(store.append_audit(&event(n)), (n * 7919) % 3000).await;
        if n % 100 == 99 {
            let check = event(n);
            let write = tokio::time::timeout(PATIENCE, store.append_audit(&check));
            let written = write
                .await
                .unwrap_or_else(|_| panic!("after {n}: no answer"));
            written.unwrap_or_else(|e| panic!("after {n} writes cut short: {e}"));
        }
    }
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
