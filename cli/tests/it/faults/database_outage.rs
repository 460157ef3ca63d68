//! PostgreSQL going away under load, as in a restart: two replicas reach the database
//! through a TCP proxy on loopback, which cuts every connection and refuses new ones for
//! a while, then lets them through again. The machine's PostgreSQL server itself is never
//! touched. Runs when `COUNTERSIGN_TEST_DATABASE_URL` names a PostgreSQL server.

use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Instant;

use serde_json::{Value as Json, json};

use super::{
    Api, Cast, Hook, Load, Rng, eventually, load_settings, rounds, seed, settle_and_check,
};
use crate::postgres::TestDatabase;
use crate::support::{PATIENCE, POLL, Scene, Served, free_port, http_get};

/// A TCP proxy on loopback to `target`; while down, it has cut every connection and its
/// port refuses new ones.
struct Proxy {
    port: u16,
    inner: Arc<ProxyInner>,
}

struct ProxyInner {
    target: String,
    /// What the proxy should be: up (listening) or down.
    up: AtomicBool,
    /// What it is now.
    listening: AtomicBool,
    quit: AtomicBool,
    open: Mutex<Vec<TcpStream>>,
}

impl Proxy {
    fn start(target: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let inner = Arc::new(ProxyInner {
            target: target.to_owned(),
            up: AtomicBool::new(true),
            listening: AtomicBool::new(true),
            quit: AtomicBool::new(false),
            open: Mutex::new(Vec::new()),
        });
        let shared = inner.clone();
        thread::spawn(move || accept(port, Some(listener), &shared));
        Proxy { port, inner }
    }

    /// Like a database restart: no more listening, every connection cut.
    fn down(&self) {
        self.inner.up.store(false, Ordering::SeqCst);
        eventually("the proxy to stop listening", || {
            match self.inner.listening.load(Ordering::SeqCst) {
                false => Ok(()),
                true => Err("still listening".into()),
            }
        });
        for stream in self.inner.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    fn up(&self) {
        self.inner.up.store(true, Ordering::SeqCst);
        eventually("the proxy to listen again", || {
            match self.inner.listening.load(Ordering::SeqCst) {
                true => Ok(()),
                false => Err("not listening".into()),
            }
        });
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.inner.quit.store(true, Ordering::SeqCst);
        for stream in self.inner.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

fn accept(port: u16, mut listener: Option<TcpListener>, inner: &ProxyInner) {
    while !inner.quit.load(Ordering::SeqCst) {
        let up = inner.up.load(Ordering::SeqCst);
        match (&listener, up) {
            (Some(_), false) => {
                listener = None;
                inner.listening.store(false, Ordering::SeqCst);
            }
            (None, true) => {
                // The same port again (the service's URL names it).
                if let Ok(l) = TcpListener::bind(("127.0.0.1", port)) {
                    l.set_nonblocking(true).unwrap();
                    listener = Some(l);
                    inner.listening.store(true, Ordering::SeqCst);
                }
            }
            _ => {}
        }
        let Some(l) = &listener else {
            thread::sleep(POLL);
            continue;
        };
        l.set_nonblocking(true).unwrap();
        match l.accept() {
            Ok((client, _)) => {
                client.set_nonblocking(false).unwrap();
                let Ok(server) = TcpStream::connect(&inner.target) else {
                    continue;
                };
                let mut open = inner.open.lock().unwrap();
                open.push(client.try_clone().unwrap());
                open.push(server.try_clone().unwrap());
                pump(client.try_clone().unwrap(), server.try_clone().unwrap());
                pump(server, client);
            }
            Err(_) => thread::sleep(POLL / 5),
        }
    }
}

/// Copies `from` to `to` until either side ends, then ends both.
fn pump(mut from: TcpStream, mut to: TcpStream) {
    thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = from.shutdown(Shutdown::Both);
        let _ = to.shutdown(Shutdown::Both);
    });
}

/// `base` (`postgres://user@host:port/db?params`) split into the server's address and a
/// URL builder that names another address and database.
fn split_url(base: &str) -> (String, impl Fn(u16, &str) -> String) {
    let (scheme, rest) = base.split_once("://").unwrap();
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (user, host) = match authority.rsplit_once('@') {
        Some((user, host)) => (format!("{user}@"), host),
        None => (String::new(), authority),
    };
    let target = if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:5432")
    };
    let query = path
        .split_once('?')
        .map_or(String::new(), |(_, q)| format!("?{q}"));
    let scheme = scheme.to_owned();
    (target, move |port, database| {
        format!("{scheme}://{user}127.0.0.1:{port}/{database}{query}")
    })
}

/// No internals in an answer: the error shape, with nothing about the database.
fn assert_clean(what: &str, status: u16, body: &Json) {
    let error = &body["error"];
    assert!(
        error["code"].is_string() && error["message"].is_string(),
        "{what}: {status} {body}"
    );
    assert_eq!(body.as_object().unwrap().len(), 1, "{what}: {body}");
    assert_eq!(error.as_object().unwrap().len(), 2, "{what}: {body}");
    let message = error["message"].as_str().unwrap().to_ascii_lowercase();
    for leak in [
        "sqlx",
        "postgres",
        "pool",
        "connection",
        "database error",
        "timed out",
        "io error",
    ] {
        assert!(!message.contains(leak), "{what}: {status} {body}");
    }
}

#[test]
fn a_database_outage_under_load_is_reported_and_recovered_from_without_loss() {
    let Some(database) = TestDatabase::create("cs_faults", "database outage") else {
        return;
    };
    let seed = seed("database outage");
    let rounds = rounds(1);
    let mut rng = Rng::new(seed);
    let (target, url_via) = split_url(&database.base);
    let proxy = Proxy::start(&target);
    let url = url_via(proxy.port, &database.name);

    let hook = Arc::new(Hook::start(rng.fork()));
    let mut scene = Scene::prepare("faults-database");
    let (pa, pb) = (free_port(), free_port());
    let mut settings = load_settings(&hook);
    settings.push(("COUNTERSIGN_DATABASE_URL", url));
    let (dir_a, dir_b) = (scene.dir.join("a"), scene.dir.join("b"));
    let mut a = Served::start_with(&scene, pa, &dir_a, &settings);
    // Replicas share the service's keys. B's long-polls wait for a wake-up from the
    // database's notifications: they re-read the request only when it expires.
    std::fs::create_dir_all(&dir_b).unwrap();
    for key in ["service.pem", "vapid.pem"] {
        std::fs::copy(dir_a.join(key), dir_b.join(key)).unwrap();
    }
    let mut on_b = settings.clone();
    on_b.push(("COUNTERSIGN_REQUESTS__RECHECK", "3600".into()));
    on_b.push(("COUNTERSIGN_REQUESTS__MAX_WAIT", "3600".into()));
    let mut b = Served::start_with(&scene, pb, &dir_b, &on_b);
    scene.service = format!("http://127.0.0.1:{pa}");
    let cast = Arc::new(Cast::enlist(&scene, 2));
    let api = Arc::new(Api::connect(vec![pa, pb]));

    let started = Instant::now();
    let load = Load::start(&api, &cast, &hook, &mut rng, seed);
    for round in 1..=rounds {
        thread::sleep(rng.millis(300, 1500));
        proxy.down();
        let created = load.ledger.created.lock().unwrap().len();
        eprintln!("database outage: round {round}: cut after {created} requests");
        // Both replicas say they are not ready, and refuse calls cleanly.
        let cut = Instant::now();
        let probes: Vec<_> = [pa, pb]
            .into_iter()
            .map(|port| {
                let (api, key) = (api.clone(), cast.agents[0].key.clone());
                thread::spawn(move || {
                    eventually("not ready while the database is away", || {
                        match http_get(port, "/readyz", None) {
                            Some((503, body)) => Ok(body),
                            other => Err(format!("{port}: /readyz answered {other:?}")),
                        }
                    });
                    let body = json!({
                        "cmd": "/email/send",
                        "args": {"to": "during@example.com"},
                        "summary": "During the outage",
                    });
                    let answer = api.call_on(port, &key, "POST", "/v1/requests", Some(&body));
                    let (status, answer) = answer.unwrap();
                    assert!(status >= 500, "{status} {answer}");
                    assert_clean("a request during the outage", status, &answer);
                })
            })
            .collect();
        for probe in probes {
            probe.join().unwrap();
        }
        eprintln!(
            "database outage: not ready, calls refused, at {:.1} s",
            cut.elapsed().as_secs_f64()
        );
        thread::sleep(rng.millis(500, 3000));
        proxy.up();
        // Both recover by themselves, without a restart.
        for (port, served) in [(pa, &mut a), (pb, &mut b)] {
            eventually("ready again", || match http_get(port, "/readyz", None) {
                Some((200, _)) => Ok(()),
                other => Err(format!("{port}: /readyz answered {other:?}")),
            });
            assert!(served.0.try_wait().unwrap().is_none(), "{port} exited");
            eprintln!(
                "database outage: {port} ready at {:.1} s",
                cut.elapsed().as_secs_f64()
            );
        }
        a_decision_on_a_wakes_a_waiter_on_b(&api, &cast, pa, pb);
        eprintln!(
            "database outage: woken at {:.1} s",
            cut.elapsed().as_secs_f64()
        );
    }
    thread::sleep(rng.millis(300, 1000));
    let ledger = load.stop();

    // The outages' failures were clean errors, never internals.
    for (what, status, body) in ledger.server_errors.lock().unwrap().iter() {
        assert_clean(what, *status, body);
    }
    let summary = settle_and_check(&scene, &api, &cast, &hook, &ledger, seed);
    eprintln!(
        "database outage: {rounds} outages, {:.1} s: {summary}; {} answers 5xx",
        started.elapsed().as_secs_f64(),
        ledger.server_errors.lock().unwrap().len()
    );
    // The replicas go before their database.
    drop((a, b));
}

/// Other replicas' changes reach B again: an agent waiting on B is answered when the
/// device approves on A (B itself would re-read the request only when it expires). Until
/// B is listening again a wake-up may be missed, so a fresh request is tried each time.
fn a_decision_on_a_wakes_a_waiter_on_b(api: &Arc<Api>, cast: &Arc<Cast>, pa: u16, pb: u16) {
    let agent = &cast.agents[0];
    let deadline = Instant::now() + PATIENCE;
    loop {
        assert!(
            Instant::now() < deadline,
            "no decision on A reached a waiter on B"
        );
        let body = json!({
            "cmd": "/email/send",
            "args": {"to": "waiting@example.com", "nonce": super::random_hex()},
            "summary": "Waiting on B",
        });
        let Some((201, created)) = api.call_on(pa, &agent.key, "POST", "/v1/requests", Some(&body))
        else {
            thread::sleep(POLL);
            continue;
        };
        let id = created["id"].as_str().unwrap().to_owned();
        let (tx, rx) = mpsc::channel();
        let (api2, cast2, id2) = (api.clone(), cast.clone(), id.clone());
        thread::spawn(move || {
            let path = format!("/v1/requests/{id2}/wait?timeout=3600");
            let _ = tx.send(api2.call_on(pb, &cast2.agents[0].key, "GET", &path, None));
        });
        // Let the waiter read the request while it is pending: a decision landing first
        // would be answered without a wake-up (and prove nothing, though it passes).
        thread::sleep(POLL * 8);
        let ledger = super::Ledger::default();
        if super::decide(&api.pinned(pa), cast, &ledger, &id, true) != super::Decided::Acked {
            continue;
        }
        match rx.recv_timeout(POLL * 200) {
            Ok(Some((200, view))) if view["state"] == "approved" => return,
            Ok(other) => panic!("the waiter on B got {other:?}"),
            Err(_) => eprintln!("database outage: a waiter on B was not woken yet; again"),
        }
    }
}
