//! `countersign gateway` killed with SIGKILL around its upstream call, restarted on the
//! same data directory: the attempt's receipt still reaches the service, the invocation
//! is refused as a replay, and the upstream is called once.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use serde_json::{Value as Json, json};

use super::{Rng, eventually, rounds, seed};
use crate::support::{PATIENCE, Scene, Served, countersign, free_port, http_call, http_get};

/// One call the upstream received.
#[derive(Clone, Debug)]
struct Call {
    idempotency_key: Option<String>,
    body: String,
}

/// The gateway process, shared with the upstream that may kill it.
type Process = Arc<Mutex<Child>>;

/// A payment API on loopback that records every call. While `hold` is set it never
/// answers, keeping the call open until the caller goes away; otherwise it answers, and
/// then, if `kill` holds a process, kills it with SIGKILL `delay` microseconds later.
struct Upstream {
    url: String,
    calls: Arc<Mutex<Vec<Call>>>,
    hold: Arc<AtomicBool>,
    kill: Arc<Mutex<Option<Process>>>,
    delay: Arc<AtomicU64>,
}

impl Upstream {
    fn start() -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let calls = Arc::new(Mutex::new(Vec::new()));
        let hold = Arc::new(AtomicBool::new(true));
        let kill: Arc<Mutex<Option<Process>>> = Arc::default();
        let delay = Arc::new(AtomicU64::new(0));
        let (seen, held, killing, delayed) =
            (calls.clone(), hold.clone(), kill.clone(), delay.clone());
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (seen, held, killing, delayed) =
                    (seen.clone(), held.clone(), killing.clone(), delayed.clone());
                thread::spawn(move || {
                    if !serve(stream, &seen, &held) {
                        return;
                    }
                    let target = killing.lock().unwrap().take();
                    if let Some(process) = target {
                        let wait = Duration::from_micros(delayed.load(Ordering::SeqCst));
                        let deadline = std::time::Instant::now() + wait;
                        while std::time::Instant::now() < deadline {
                            std::hint::spin_loop();
                        }
                        let _ = process.lock().unwrap().kill();
                    }
                });
            }
        });
        Upstream {
            url,
            calls,
            hold,
            kill,
            delay,
        }
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
}

/// Records one call and answers it, unless held; whether it answered at once.
fn serve(stream: std::net::TcpStream, calls: &Mutex<Vec<Call>>, hold: &AtomicBool) -> bool {
    let _ = stream.set_read_timeout(Some(PATIENCE));
    let mut reader = BufReader::new(stream);
    let (mut key, mut length) = (None, 0usize);
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return false,
            Ok(_) if line == "\r\n" => break,
            Ok(_) => {}
        }
        if let Some((name, value)) = line.split_once(':') {
            match name.trim().to_ascii_lowercase().as_str() {
                "idempotency-key" => key = Some(value.trim().to_owned()),
                "content-length" => length = value.trim().parse().unwrap_or(0),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return false;
    }
    calls.lock().unwrap().push(Call {
        idempotency_key: key,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let held = hold.load(Ordering::SeqCst);
    if held {
        // Held until the caller is gone (or the test's patience runs out).
        let mut rest = [0u8; 64];
        while matches!(reader.read(&mut rest), Ok(n) if n > 0) {}
    }
    let answer = r#"{"id": "re_1", "status": "succeeded"}"#;
    let _ = write!(
        reader.get_mut(),
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
        answer.len()
    );
    !held
}

/// `countersign gateway --config FILE`, killed when dropped.
struct Gateway(Process);

impl Gateway {
    /// Starts the gateway and waits until its revocation view is fresh.
    fn start(scene: &Scene, config: &Path, port: u16) -> Gateway {
        let log = |name: &str| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(scene.dir.join(name))
                .unwrap()
        };
        let child = countersign()
            .args(["gateway", "--config"])
            .arg(config)
            .env("COUNTERSIGN_LOG", "info")
            .current_dir(&scene.dir)
            .stdin(Stdio::null())
            .stdout(log("gateway.out"))
            .stderr(log("gateway.err"))
            .spawn()
            .unwrap();
        let gateway = Gateway(Arc::new(Mutex::new(child)));
        eventually("the gateway to be ready", || {
            if let Some(status) = gateway.0.lock().unwrap().try_wait().unwrap() {
                let log = std::fs::read_to_string(scene.dir.join("gateway.err")).unwrap();
                panic!("countersign gateway exited with {status}:\n{log}");
            }
            match http_get(port, "/healthz", None) {
                Some((200, _)) => Ok(()),
                other => Err(format!("/healthz answered {other:?}")),
            }
        });
        gateway
    }

    /// SIGKILL: no chance to finish anything (if it was not killed already).
    fn kill(self) {
        let mut child = self.0.lock().unwrap();
        let _ = child.kill();
        let status = child.wait().unwrap();
        assert_eq!(
            status.code(),
            None,
            "killed by a signal, not exited: {status}"
        );
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let mut child = self.0.lock().unwrap();
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// The CID of the invocation in `container`.
fn invocation_cid(container: &str) -> String {
    use countersign_core::container::{Container, ContainerLimits};
    use countersign_core::envelope::{Envelope, TokenKind};
    Container::parse(container.as_bytes(), &ContainerLimits::default())
        .unwrap()
        .into_tokens()
        .iter()
        .find(|t| Envelope::open(t).unwrap().kind == TokenKind::Invocation)
        .map(|t| countersign_core::Cid::dag_cbor(t).to_string())
        .unwrap()
}

/// The receipts the service recorded for `invocation`: (outcome, refusal kind).
fn receipts(scene: &Scene, invocation: &str) -> Vec<(String, Option<String>)> {
    let owner_key = scene.owner_dir.join("owner.pem");
    let mut found = Vec::new();
    let mut after = 0;
    loop {
        let (status, page) = scene.api_get(&owner_key, &format!("/v1/audit?after={after}"));
        assert_eq!(status, 200, "{page}");
        let entries = page["entries"].as_array().unwrap();
        let Some(last) = entries.last() else {
            return found;
        };
        after = last["seq"].as_i64().unwrap();
        for entry in entries {
            if entry["kind"] == "gateway.receipt" && entry["subject"] == invocation {
                let data = &entry["data"];
                found.push((
                    data["outcome"].as_str().unwrap().to_owned(),
                    data["error"].as_str().map(str::to_owned),
                ));
            }
        }
    }
}

fn gateway_config(scene: &Scene, port: u16, upstream: &str) -> String {
    format!(
        r#"
listen = "127.0.0.1:{port}"
data_dir = "gateway-data"
key = "gateway.pem"
owners = ["{owner}"]

[service]
url = "{service}"

[limits]
request_timeout = "600s"

[[routes]]
command = "/payment/refund"

[routes.http]
method = "POST"
url = "{upstream}/v1/refunds"
body = "json"
fields = {{ charge = ".charge", amount = ".amount" }}
timeout = "300s"
"#,
        owner = scene.owner,
        service = scene.service,
    )
}

#[test]
fn a_gateway_killed_around_its_upstream_call_reports_the_attempt_and_never_repeats_it() {
    let seed = seed("gateway kill");
    let rounds = rounds(2);
    let mut rng = Rng::new(seed);
    let mut scene = Scene::prepare("faults-gateway");
    let gateway_did = scene.ok_owner(&["key", "generate", "--out", "gateway.pem"]);
    let service_config = scene.dir.join("service.toml");
    std::fs::write(&service_config, format!("gateways = [\"{gateway_did}\"]\n")).unwrap();
    let port = free_port();
    scene.service = format!("http://127.0.0.1:{port}");
    let settings = [("COUNTERSIGN_CONFIG", service_config.display().to_string())];
    let served = Served::start_with(&scene, port, &scene.dir.join("data"), &settings);

    let upstream = Upstream::start();
    let gateway_port = free_port();
    let config = scene.dir.join("gateway.toml");
    std::fs::write(&config, gateway_config(&scene, gateway_port, &upstream.url)).unwrap();
    let owner_key = scene.owner_dir.join("owner.pem");
    let delegation = scene.ok_owner(&[
        "delegate",
        "--key",
        owner_key.to_str().unwrap(),
        "--to",
        &scene.agent,
        "--cmd",
        "/payment/refund",
        "--expires-in",
        "1h",
    ]);
    let mut gateway = Gateway::start(&scene, &config, gateway_port);

    for round in 1..=rounds {
        // Odd rounds: killed while the upstream holds the call. Even rounds: the upstream
        // answers and kills the gateway a moment later, while it reads the answer,
        // records the outcome, answers its caller or sends the receipt.
        let held = round % 2 == 1;
        upstream.hold.store(held, Ordering::SeqCst);
        if !held {
            upstream.delay.store(rng.below(3000), Ordering::SeqCst);
            *upstream.kill.lock().unwrap() = Some(gateway.0.clone());
        }
        let args = format!(r#"{{"charge": "ch_{round}", "amount": {}}}"#, 100 + round);
        let container = scene.invoke(&gateway_did, "/payment/refund", &args, &delegation);
        let cid = invocation_cid(&container);
        let body = json!({ "container": container }).to_string();
        let sent = body.clone();
        let caller =
            thread::spawn(move || http_call(gateway_port, "POST", "/v1/invoke", None, Some(&sent)));
        eventually("the upstream call", || match upstream.calls().len() {
            n if n == round => Ok(()),
            n => Err(format!("{n} calls")),
        });
        if held {
            thread::sleep(rng.millis(0, 200));
        } else {
            eventually("the upstream to kill the gateway", || {
                match gateway.0.lock().unwrap().try_wait().unwrap() {
                    Some(_) => Ok(()),
                    None => Err("still running".into()),
                }
            });
        }
        gateway.kill();
        let answered = caller.join().unwrap();
        if held {
            assert_eq!(answered, None, "a killed gateway answered");
        }
        let answered = answered.map(|(status, _)| status);
        gateway = Gateway::start(&scene, &config, gateway_port);

        // The attempt's receipt reaches the service: `unknown` when the gateway died
        // before recording the outcome (always while the call was held).
        let attempt = eventually("the attempt's receipt", || {
            let found = receipts(&scene, &cid);
            match found.iter().find(|(outcome, _)| outcome != "refused") {
                Some((outcome, _)) => Ok(outcome.clone()),
                None => Err(format!("receipts {found:?}")),
            }
        });
        eprintln!(
            "gateway kill: round {round} (held: {held}): the caller got {answered:?}, \
             the receipt says {attempt}"
        );
        if held {
            assert_eq!(attempt, "unknown");
        } else {
            assert!(attempt == "ok" || attempt == "unknown", "{attempt}");
        }
        // Sent again, it is a replay; its refusal is reported too.
        let (status, answer) =
            http_call(gateway_port, "POST", "/v1/invoke", None, Some(&body)).unwrap();
        let answer: Json = serde_json::from_str(&answer).unwrap();
        assert_eq!(status, 409, "{answer}");
        assert_eq!(answer["error"]["kind"], "Replayed", "{answer}");
        let found = eventually("the replay's receipt", || {
            let found = receipts(&scene, &cid);
            match found.iter().any(|r| r.1.as_deref() == Some("Replayed")) {
                true => Ok(found),
                false => Err(format!("receipts {found:?}")),
            }
        });
        let attempts: Vec<_> = found.iter().filter(|r| r.0 != "refused").collect();
        assert_eq!(attempts.len(), 1, "one receipt per attempt: {found:?}");
        // Once, with the invocation as the idempotency key.
        let calls = upstream.calls();
        let last = calls.last().unwrap();
        assert_eq!(calls.len(), round, "{calls:?}");
        assert_eq!(
            last.idempotency_key.as_deref(),
            Some(cid.as_str()),
            "{last:?}"
        );
        assert!(last.body.contains(&format!("ch_{round}")), "{last:?}");
    }

    let export = scene.dir.join("audit.jsonl");
    scene.ok_owner(&["audit", "export", "--out", export.to_str().unwrap()]);
    let (_, info) = http_get(port, "/v1/service", None).unwrap();
    let info: Json = serde_json::from_str(&info).unwrap();
    let verified = scene.owner(&[
        "audit",
        "verify",
        export.to_str().unwrap(),
        "--service",
        info["did"].as_str().unwrap(),
    ]);
    assert_eq!(verified.code, 0, "{verified:?}");
    drop((gateway, served));
}
