//! Schemathesis against the served OpenAPI document of a running `countersign serve`: every
//! operation gets generated (valid and invalid) input, signed for the principal its
//! `security` names (tests/hostile/hooks.py). No answer may be a 5xx, and every answer must
//! match the document. Skips unless schemathesis (`st`) is installed or
//! `COUNTERSIGN_REQUIRE_HOSTILE` is set; `COUNTERSIGN_HOSTILE_EXAMPLES` and
//! `COUNTERSIGN_HOSTILE_SECONDS` make the run longer (see docs/SECURITY.md).

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::Instant;

use serde_json::json;

use crate::support::{PATIENCE, POLL, Scene, countersign, http_get};

/// The `countersign serve` binary on `port` over `scene`'s data directory, killed when dropped.
pub struct Served(pub Child);

impl Served {
    pub fn start(scene: &Scene, port: u16) -> Served {
        let log = |name: &str| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(scene.dir.join(name))
                .unwrap()
        };
        let child = countersign()
            .arg("serve")
            .env("COUNTERSIGN_CONFIG_DIR", &scene.owner_dir)
            .env("COUNTERSIGN_DATA_DIR", scene.dir.join("data"))
            .env("COUNTERSIGN_LISTEN", format!("127.0.0.1:{port}"))
            .env("COUNTERSIGN_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
            .env("COUNTERSIGN_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log("serve.out"))
            .stderr(log("serve.err"))
            .spawn()
            .unwrap();
        let mut served = Served(child);
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some((200, _)) = http_get(port, "/v1/service", None) {
                return served;
            }
            if let Some(status) = served.0.try_wait().unwrap() {
                let log = std::fs::read_to_string(scene.dir.join("serve.err")).unwrap_or_default();
                panic!("countersign serve exited with {status}:\n{log}");
            }
            assert!(
                Instant::now() < deadline,
                "countersign serve never answered"
            );
            thread::sleep(POLL);
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn schemathesis_installed() -> bool {
    Command::new("st")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn schemathesis_finds_no_server_error_and_no_schema_violation() {
    if !schemathesis_installed() {
        assert!(
            std::env::var_os("COUNTERSIGN_REQUIRE_HOSTILE").is_none(),
            "COUNTERSIGN_REQUIRE_HOSTILE is set but schemathesis (`st`) is not installed: \
             pip install schemathesis==4.32.5 cryptography"
        );
        eprintln!("skipped: schemathesis is not installed (pip install schemathesis==4.32.5)");
        return;
    }
    let mut scene = Scene::prepare("hostile-api");
    let port = free_port();
    let served = Served::start(&scene, port);
    scene.service = format!("http://127.0.0.1:{port}");
    scene.add_agent("/email");
    scene.pair_device();

    let keys = scene.dir.join("hostile-keys.json");
    std::fs::write(
        &keys,
        json!({
            "service_url": scene.service,
            "owner": scene.owner_dir.join("owner.pem"),
            "agent": scene.dir.join("agent.pem"),
            "device": scene.device_dir.join("device.pem"),
        })
        .to_string(),
    )
    .unwrap();
    let hooks = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/hostile");
    let examples = env_number("COUNTERSIGN_HOSTILE_EXAMPLES", 10).to_string();
    let seconds = env_number("COUNTERSIGN_HOSTILE_SECONDS", 60);
    // The operations that disable the test's own principals (the kill switch, removing the
    // agent or the device) run last, in a pass of their own.
    let disabling = "^/v1/(kill|agents/[^/]+|devices/[^/]+)$";
    let mut report = String::new();
    let mut failed = Vec::new();
    for (pass, filter, share) in [
        ("everything else", "--exclude-path-regex", 3),
        ("disabling", "--include-path-regex", 1),
    ] {
        let out = Command::new("st")
            .args(["--config-file"])
            .arg(hooks.join("schemathesis.toml"))
            .args(["run", &format!("{}/v1/openapi.json", scene.service)])
            .args(["--url", &scene.service])
            .args([
                "--checks",
                "not_a_server_error,response_schema_conformance,content_type_conformance",
            ])
            // Server-sent event streams never end; their opening is covered by the API tests.
            .args(["--exclude-path-regex", "/events$"])
            .args([filter, disabling])
            .args(["--max-examples", &examples])
            .args(["--max-time", &(seconds * share / 4).max(1).to_string()])
            .args(["--request-timeout", "20", "--workers", "1"])
            .args(["--suppress-health-check", "all", "--no-color"])
            .env("SCHEMATHESIS_HOOKS", "hooks")
            .env("PYTHONPATH", &hooks)
            .env("COUNTERSIGN_HOSTILE_KEYS", &keys)
            .current_dir(&scene.dir)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        println!("--- {pass}\n{stdout}");
        if !out.status.success() {
            failed.push(pass);
            report.push_str(&format!(
                "--- {pass}\n{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    drop(served);
    let log = std::fs::read_to_string(scene.dir.join("serve.err")).unwrap_or_default();
    assert!(!log.contains("panicked"), "the service panicked:\n{log}");
    assert!(
        failed.is_empty(),
        "schemathesis found failures in {failed:?}:\n{report}"
    );
}
