//! The service commands against a running service: in-process over a temporary SQLite
//! file, or (for the restart test) the `countersign serve` binary itself. Every client
//! is the real `countersign` binary.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use countersign_core::{Did, Keypair};
use countersign_server::clock::SystemClock;
use countersign_server::config::Config;
use countersign_server::state::AppState;
use serde_json::Value as Json;

const BIN: &str = env!("CARGO_BIN_EXE_countersign");
/// The longest one step may take, however loaded the machine, before the test fails.
const PATIENCE: Duration = Duration::from_secs(120);
/// How often to look again while polling for something to be ready.
const POLL: Duration = Duration::from_millis(25);

/// A finished run of the binary.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// The lines a child writes to one stream, read as they come.
struct Lines {
    rx: Receiver<String>,
    seen: Vec<String>,
}

impl Lines {
    fn new(stream: impl Read + Send + 'static) -> Lines {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lines {
            rx,
            seen: Vec::new(),
        }
    }

    /// Waits for a line starting with `prefix` and returns the rest of it.
    fn wait_for(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(line) => {
                    let found = line.strip_prefix(prefix).map(str::to_owned);
                    self.seen.push(line);
                    if let Some(rest) = found {
                        return rest;
                    }
                }
                Err(e) => panic!("no line {prefix:?} ({e:?}); got:\n{}", self.seen.join("\n")),
            }
        }
    }

    /// Everything the stream carried, once it is closed.
    fn all(mut self) -> String {
        while let Ok(line) = self.rx.recv() {
            self.seen.push(line);
        }
        self.seen.join("\n").trim().to_owned()
    }
}

/// A running child with its output read as it comes.
struct Spawned {
    child: Child,
    what: String,
    out: Lines,
    err: Lines,
}

impl Spawned {
    fn finish(mut self) -> Run {
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("{} did not finish; stderr:\n{}", self.what, self.err.all());
            }
            thread::sleep(POLL);
        };
        let run = Run {
            code: status.code().unwrap_or(-1),
            stdout: self.out.all(),
            stderr: self.err.all(),
        };
        assert!(
            !run.stderr.contains("panicked"),
            "{}: {}",
            self.what,
            run.stderr
        );
        run
    }
}

/// The binary with none of the caller's `COUNTERSIGN_…` settings.
fn countersign() -> Command {
    let mut cmd = Command::new(BIN);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("COUNTERSIGN_") {
            cmd.env_remove(name);
        }
    }
    cmd
}

/// The service in this process, on its own runtime and thread, stopped when dropped.
struct InProcess {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl InProcess {
    fn start(
        dir: &Path,
        owner: Did,
        tweak: impl FnOnce(&mut Config) + Send + 'static,
    ) -> (InProcess, String) {
        let database = format!("sqlite:{}", dir.join("service.db").display());
        let data_dir = dir.join("data");
        let mut seed = [0u8; 32];
        getrandom::getrandom(&mut seed).unwrap();
        let key = Keypair::from_seed(&seed);
        let (ready, started) = mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let store = countersign_server::store::open(&database).await.unwrap();
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                let mut config = Config {
                    listen: addr,
                    public_url: format!("http://{addr}"),
                    data_dir,
                    ..Config::default()
                };
                tweak(&mut config);
                let state = AppState::new(store, key, owner, config, Arc::new(SystemClock));
                ready.send(addr).unwrap();
                countersign_server::serve(listener, state, async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
            });
        });
        let addr = started.recv_timeout(PATIENCE).unwrap();
        (InProcess { stop: Some(stop) }, format!("http://{addr}"))
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The `countersign serve` binary, killed when dropped.
struct Served(Child);

impl Served {
    fn start(scene: &Scene, port: u16) -> Served {
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
        // Ready once it answers.
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

    /// SIGKILL: no chance to clean up.
    fn kill(mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A plain HTTP/1.1 GET: the status and body, or `None` if nothing answers.
fn http_get(port: u16, path: &str, bearer: Option<&str>) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(PATIENCE)).ok()?;
    let auth = bearer.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}Connection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let (_, body) = response.split_once("\r\n\r\n")?;
    Some((status, body.to_owned()))
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .try_into()
        .unwrap()
}

/// An owner with its config directory, an approver device's, an agent key, and a service.
struct Scene {
    dir: PathBuf,
    owner_dir: PathBuf,
    device_dir: PathBuf,
    owner: String,
    agent: String,
    service: String,
    _in_process: Option<InProcess>,
}

impl Scene {
    /// Creates the directories, runs `countersign init` and makes an agent key; the
    /// service is yet to start.
    fn prepare(name: &str) -> Scene {
        let dir =
            std::env::temp_dir().join(format!("countersign-service-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut scene = Scene {
            owner_dir: dir.join("owner"),
            device_dir: dir.join("device"),
            dir,
            owner: String::new(),
            agent: String::new(),
            service: "http://127.0.0.1:1".into(),
            _in_process: None,
        };
        let init = scene.ok_owner(&["init"]);
        assert!(init.starts_with("created the owner key"), "{init}");
        scene.owner = line_after(&init, "owner DID: ");
        scene.agent = scene.ok_owner(&["key", "generate", "--out", "agent.pem"]);
        scene
    }

    /// A scene with the service running in this process.
    fn new(name: &str) -> Scene {
        Scene::configured(name, |_| {})
    }

    /// A scene with the service running in this process, configured by `tweak`.
    fn configured(name: &str, tweak: impl FnOnce(&mut Config) + Send + 'static) -> Scene {
        let mut scene = Scene::prepare(name);
        let (service, url) = InProcess::start(&scene.dir, scene.owner.parse().unwrap(), tweak);
        scene._in_process = Some(service);
        scene.service = url;
        scene
    }

    fn command(&self, config_dir: &Path, args: &[&str]) -> Command {
        let mut cmd = countersign();
        cmd.env("COUNTERSIGN_CONFIG_DIR", config_dir)
            .arg("--service")
            .arg(&self.service)
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    fn spawn(&self, config_dir: &Path, args: &[&str]) -> Spawned {
        let mut child = self.command(config_dir, args).spawn().unwrap();
        Spawned {
            out: Lines::new(child.stdout.take().unwrap()),
            err: Lines::new(child.stderr.take().unwrap()),
            child,
            what: format!("countersign {}", args.join(" ")),
        }
    }

    /// Runs as the owner (or an agent, with `--key`).
    fn owner(&self, args: &[&str]) -> Run {
        self.spawn(&self.owner_dir, args).finish()
    }

    /// Runs on the approver device.
    fn device(&self, args: &[&str]) -> Run {
        self.spawn(&self.device_dir, args).finish()
    }

    fn ok_owner(&self, args: &[&str]) -> String {
        let r = self.owner(args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        r.stdout
    }

    fn ok_device(&self, args: &[&str]) -> String {
        let r = self.device(args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        r.stdout
    }

    /// Registers the agent for `allow`.
    fn add_agent(&self, allow: &str) {
        let out = self.ok_owner(&[
            "agent",
            "add",
            "helper",
            "--did",
            &self.agent,
            "--allow",
            allow,
        ]);
        assert!(out.starts_with("added agent helper"), "{out}");
    }

    /// `device pair --yes` and `device join` at once, as on two machines; the device id.
    fn pair_device(&self) -> String {
        let mut pair = self.spawn(
            &self.owner_dir,
            &["device", "pair", "--yes", "--name", "laptop"],
        );
        let code = pair.out.wait_for("pairing code: ");
        let code = code.split_whitespace().next().unwrap().to_owned();
        let join = self.spawn(
            &self.device_dir,
            &["device", "join", &code, "--name", "test terminal"],
        );
        let (pair, join) = (pair.finish(), join.finish());
        assert_eq!(pair.code, 0, "pair: {}", pair.stderr);
        assert_eq!(join.code, 0, "join: {}", join.stderr);
        let shown = line_after(&pair.stdout, "verification code: ");
        assert_eq!(shown, line_after(&join.stdout, "verification code: "));
        assert_eq!(shown.len(), 7, "{shown}");
        assert!(
            pair.stdout.contains("device \"test terminal\""),
            "{}",
            pair.stdout
        );
        let id = line_after(&join.stdout, "paired as device ");
        let id = id.split_whitespace().next().unwrap().to_owned();
        assert!(
            pair.stdout.contains(&format!("paired device {id} ")),
            "{}",
            pair.stdout
        );
        id
    }

    /// Starts `request --wait` for `extra` and returns it with the request's id.
    fn request_waiting(&self, extra: &[&str]) -> (Spawned, String) {
        let (request, id, _) = self.request_with_code(extra);
        (request, id)
    }

    /// Starts `request --wait` for `extra`: the process, the request's id and its code.
    fn request_with_code(&self, extra: &[&str]) -> (Spawned, String, String) {
        let mut args = vec!["request", "--key", "agent.pem", "--wait"];
        args.extend(extra);
        let mut request = self.spawn(&self.owner_dir, &args);
        let id = request.err.wait_for("request: ");
        let code = request.err.wait_for("code: ");
        assert!((10..100).contains(&code.parse::<u32>().unwrap()), "{code}");
        (request, id, code)
    }

    /// A fresh key for an executor that checks invocations.
    fn executor(&self) -> String {
        self.ok_owner(&["key", "generate", "--out", "executor.pem"])
    }

    fn invoke(&self, executor: &str, cmd: &str, args: &str, proof: &str) -> String {
        self.ok_owner(&[
            "invoke",
            "--key",
            "agent.pem",
            "--to",
            executor,
            "--cmd",
            cmd,
            "--args",
            args,
            "--proof",
            proof,
        ])
    }
}

impl Drop for Scene {
    fn drop(&mut self) {
        if !thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The rest of the first line of `text` that starts with `prefix`.
fn line_after(text: &str, prefix: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line {prefix:?} in:\n{text}"))
        .trim()
        .to_owned()
}

fn assert_one_line_error(run: &Run, needle: &str) {
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stdout.is_empty(), "{run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
    assert!(run.stderr.starts_with("error: "), "{run:?}");
    assert!(run.stderr.contains(needle), "{needle:?} in {run:?}");
}

#[test]
fn an_agent_gets_a_capability_a_paired_terminal_approved() {
    let scene = Scene::new("story");
    // `init` is idempotent and keeps the key private.
    let again = scene.ok_owner(&["init"]);
    assert!(again.contains("already exists"), "{again}");
    assert_eq!(line_after(&again, "owner DID: "), scene.owner);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(scene.owner_dir.join("owner.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let mode = std::fs::metadata(scene.device_dir.join("device.pem"));
        assert!(mode.is_err(), "no device key before joining");
    }

    scene.add_agent("/email/send");
    let device_id = scene.pair_device();
    let devices = scene.ok_owner(&["device", "list"]);
    assert!(
        devices.starts_with(&format!("{device_id}  test terminal")),
        "{devices}"
    );

    let args = r#"{"to": "bob@example.com", "subject": "Lunch?"}"#;
    let (request, id) = scene.request_waiting(&[
        "--cmd",
        "/email/send",
        "--args",
        args,
        "--summary",
        "Email Bob about lunch",
        "--reason",
        "Bob asked",
    ]);
    let approved = scene.ok_device(&["approve", &id]);
    assert!(
        approved.starts_with(&format!("approved {id}")),
        "{approved}"
    );

    let request = request.finish();
    assert_eq!(request.code, 0, "{}", request.stderr);
    assert_eq!(request.stdout.lines().count(), 1, "{}", request.stdout);
    let container = request.stdout;

    let executor = scene.executor();
    let invocation = scene.invoke(&executor, "/email/send", args, &container);
    let verdict = scene.ok_owner(&["verify", &invocation, "--audience", &executor]);
    assert!(verdict.starts_with("valid: "), "{verdict}");
    assert!(
        verdict.contains(&format!("on {} (3 proofs)", scene.owner)),
        "{verdict}"
    );
    // Other arguments are not what was approved.
    let other = scene.invoke(
        &executor,
        "/email/send",
        r#"{"to": "eve@example.com", "subject": "Lunch?"}"#,
        &container,
    );
    let verdict = scene.owner(&["verify", &other, "--audience", &executor]);
    assert_eq!(verdict.code, 1, "{verdict:?}");
}

#[test]
fn a_denial_reaches_the_waiting_agent_with_its_reason() {
    let scene = Scene::new("deny");
    scene.add_agent("/payment");
    scene.pair_device();
    let (request, id) = scene.request_waiting(&[
        "--cmd",
        "/payment/refund",
        "--args",
        r#"{"order": "A-17", "amount": 4900}"#,
        "--summary",
        "Refund order A-17",
    ]);
    let denied = scene.ok_device(&["deny", &id, "--reason", "not this one"]);
    assert_eq!(denied, format!("denied {id}"));
    let request = request.finish();
    assert_eq!(request.code, 3, "{request:?}");
    assert!(request.stdout.is_empty(), "{request:?}");
    assert!(
        request.stderr.contains("denied: not this one"),
        "{request:?}"
    );
    // Decided once: a late approval is refused.
    let late = scene.device(&["approve", &id]);
    assert_one_line_error(&late, "not pending");
}

#[test]
fn a_narrowed_approval_issues_a_narrower_chain() {
    let scene = Scene::new("narrow");
    scene.add_agent("/payment/refund");
    scene.pair_device();
    let (request, id) = scene.request_waiting(&[
        "--cmd",
        "/payment/refund",
        "--policy",
        r#"[["<=", ".amount", 100]]"#,
        "--summary",
        "Refunds up to 100",
        "--lifetime",
        "10m",
    ]);
    scene.ok_device(&[
        "approve",
        &id,
        "--narrow-policy",
        r#"[["<=", ".amount", 50]]"#,
        "--expires-in",
        "2m",
    ]);
    let request = request.finish();
    assert_eq!(request.code, 0, "{}", request.stderr);
    let container = request.stdout;

    let inspected: Json =
        serde_json::from_str(&scene.ok_owner(&["inspect", &container, "--output", "json"]))
            .unwrap();
    let tokens = inspected["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 3);
    let issued = tokens
        .iter()
        .find(|t| t["aud"] == scene.agent.as_str())
        .unwrap();
    let pol = serde_json::json!([["<=", ".amount", 100], ["<=", ".amount", 50]]);
    assert_eq!(issued["pol"], pol);
    assert_eq!(issued["signature_valid"], true);
    let lifetime = issued["exp"].as_i64().unwrap() - now();
    assert!((60..=120).contains(&lifetime), "{lifetime}");

    let executor = scene.executor();
    let within = scene.invoke(
        &executor,
        "/payment/refund",
        r#"{"amount": 30}"#,
        &container,
    );
    let verdict = scene.owner(&["verify", &within, "--audience", &executor]);
    assert_eq!(verdict.code, 0, "{verdict:?}");
    let beyond = scene.invoke(
        &executor,
        "/payment/refund",
        r#"{"amount": 70}"#,
        &container,
    );
    let verdict = scene.owner(&["verify", &beyond, "--audience", &executor]);
    assert_eq!(verdict.code, 1, "{verdict:?}");
    assert!(
        verdict.stdout.starts_with("invalid: MatchError"),
        "{verdict:?}"
    );
}

#[test]
fn number_matching_takes_the_code_the_agent_shows() {
    let scene = Scene::configured("matching", |config| {
        config.requests.number_matching = vec!["/payment".into()];
    });
    scene.add_agent("/payment");
    scene.pair_device();
    let (request, id, code) = scene.request_with_code(&[
        "--cmd",
        "/payment/refund",
        "--args",
        r#"{"order": "A-17"}"#,
        "--summary",
        "Refund order A-17",
    ]);
    // Without a terminal to ask on, the code must be given; the choices are listed.
    let unasked = scene.device(&["approve", &id]);
    assert_one_line_error(&unasked, "--match");
    let listed = unasked.stderr.rsplit_once("(one of ").unwrap().1;
    let choices: Vec<&str> = listed.trim_end_matches(')').split(", ").collect();
    assert_eq!(choices.len(), 3, "{listed}");
    assert!(choices.contains(&code.as_str()), "{code} in {listed}");
    let offered = scene.device(&["approve", &id, "--match", "100"]);
    assert_one_line_error(&offered, "not among the codes offered");
    let wrong = choices.iter().find(|c| **c != code).unwrap();
    let refused = scene.device(&["approve", &id, "--match", wrong]);
    assert_one_line_error(&refused, "(match_wrong)");

    let approved = scene.ok_device(&["approve", &id, "--match", &code]);
    assert!(
        approved.starts_with(&format!("approved {id}")),
        "{approved}"
    );
    let request = request.finish();
    assert_eq!(request.code, 0, "{}", request.stderr);
    let inspected: Json =
        serde_json::from_str(&scene.ok_owner(&["inspect", &request.stdout, "--output", "json"]))
            .unwrap();
    let approval = inspected["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["meta"]["countersign/match"].is_string())
        .unwrap();
    assert_eq!(approval["meta"]["countersign/match"], code.as_str());
}

#[test]
fn configuration_listing_and_errors() {
    let scene = Scene::new("basics");
    let example = scene.ok_owner(&["config", "example"]);
    let path = scene.dir.join("example.toml");
    std::fs::write(&path, &example).unwrap();
    let config = Config::load_from(Some(&path), Vec::new()).unwrap();
    assert_eq!(config.listen, Config::default().listen);

    scene.add_agent("/email/send");
    let listed: Json =
        serde_json::from_str(&scene.ok_owner(&["agent", "list", "--output", "json"])).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["name"], "helper");
    assert_eq!(listed[0]["did"], scene.agent.as_str());
    assert_eq!(listed[0]["allow"], serde_json::json!(["/email/send"]));

    // The service's refusals, on one line each.
    let again = scene.owner(&[
        "agent",
        "add",
        "helper",
        "--did",
        &scene.agent,
        "--allow",
        "/x",
    ]);
    assert_one_line_error(&again, "the service refused: ");
    assert!(again.stderr.ends_with("(already_exists)"), "{again:?}");
    let not_owner = scene.owner(&["agent", "list", "--key", "agent.pem"]);
    assert_one_line_error(&not_owner, "(forbidden)");
    let not_allowed = scene.owner(&[
        "request",
        "--key",
        "agent.pem",
        "--cmd",
        "/shell/exec",
        "--args",
        "{}",
        "--summary",
        "x",
    ]);
    assert_one_line_error(&not_allowed, "may not request /shell/exec (forbidden)");
    let unknown = scene.owner(&["device", "remove", "dev_nosuch"]);
    assert_one_line_error(&unknown, "(not_found)");
    let no_device = scene.device(&["approve", "req_x"]);
    assert_one_line_error(&no_device, "countersign device join");
    let no_terminal = scene.owner(&["device", "pair"]);
    assert_one_line_error(&no_terminal, "--yes");

    // A request without --wait prints its id; removing the agent ends its access.
    let id = scene.ok_owner(&[
        "request",
        "--key",
        "agent.pem",
        "--cmd",
        "/email/send",
        "--args",
        "{}",
        "--summary",
        "x",
    ]);
    assert!(id.starts_with("req_"), "{id}");
    assert_eq!(
        scene.ok_owner(&["agent", "remove", "helper"]),
        "removed agent helper"
    );
    let removed = scene.owner(&[
        "request",
        "--key",
        "agent.pem",
        "--cmd",
        "/email/send",
        "--args",
        "{}",
        "--summary",
        "x",
    ]);
    assert_one_line_error(&removed, "not a registered agent");

    let mut unreachable = scene.command(&scene.owner_dir, &["agent", "list"]);
    unreachable.args(["--service", "http://127.0.0.1:1"]);
    let out = unreachable.output().unwrap();
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    };
    assert_one_line_error(&run, "cannot reach the service at http://127.0.0.1:1");
}

#[test]
fn an_issued_chain_survives_a_killed_service() {
    let mut scene = Scene::prepare("restart");
    let port = {
        let probe = TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    scene.service = format!("http://127.0.0.1:{port}");
    let served = Served::start(&scene, port);
    let (_, info) = http_get(port, "/v1/service", None).unwrap();
    let info: Json = serde_json::from_str(&info).unwrap();
    assert_eq!(info["owner"], scene.owner.as_str());
    let service: Did = info["did"].as_str().unwrap().parse().unwrap();

    scene.add_agent("/email/send");
    scene.pair_device();
    let id = scene.ok_owner(&[
        "request",
        "--key",
        "agent.pem",
        "--cmd",
        "/email/send",
        "--args",
        r#"{"to": "bob@example.com"}"#,
        "--summary",
        "Email Bob",
    ]);
    scene.ok_device(&["approve", &id]);

    let agent =
        Keypair::from_pkcs8_pem(&std::fs::read_to_string(scene.dir.join("agent.pem")).unwrap())
            .unwrap();
    let as_agent = || {
        let mut jti = [0u8; 16];
        getrandom::getrandom(&mut jti).unwrap();
        let jti = jti.iter().map(|b| format!("{b:02x}")).collect();
        let token = countersign_server::auth::jwt::issue(&agent, &service, now(), 60, jti).unwrap();
        let (status, body) = http_get(port, &format!("/v1/requests/{id}"), Some(&token)).unwrap();
        assert_eq!(status, 200, "{body}");
        let view: Json = serde_json::from_str(&body).unwrap();
        assert_eq!(view["state"], "approved", "{view}");
        view["container"].as_str().unwrap().to_owned()
    };
    let before = as_agent();

    served.kill();
    let served = Served::start(&scene, port);
    let (_, info) = http_get(port, "/v1/service", None).unwrap();
    let info: Json = serde_json::from_str(&info).unwrap();
    assert_eq!(info["did"], service.to_string(), "the service key is kept");
    assert_eq!(as_agent(), before, "the same chain, issued once");
    let late = scene.device(&["approve", &id]);
    assert_one_line_error(&late, "not pending");
    let devices = scene.ok_owner(&["device", "list"]);
    assert!(devices.contains("test terminal"), "{devices}");
    drop(served);
}
