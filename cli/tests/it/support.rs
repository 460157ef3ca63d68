//! What the tests of the service commands share: the service in this process over a
//! temporary SQLite file, a scene with an owner, an agent and approver devices, and the
//! real `countersign` binary run as each of them.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
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

pub const BIN: &str = env!("CARGO_BIN_EXE_countersign");
/// The longest one step may take, however loaded the machine, before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(120);
/// How often to look again while polling for something to be ready.
pub const POLL: Duration = Duration::from_millis(25);

/// A finished run of the binary.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// The lines a child writes to one stream, read as they come.
pub struct Lines {
    rx: Receiver<String>,
    seen: Vec<String>,
}

impl Lines {
    pub fn new(stream: impl Read + Send + 'static) -> Lines {
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
    pub fn wait_for(&mut self, prefix: &str) -> String {
        let line = self.wait_until(&format!("a line {prefix:?}"), |l| l.starts_with(prefix));
        line[prefix.len()..].to_owned()
    }

    /// Waits for a line that `wanted` accepts and returns it.
    pub fn wait_until(&mut self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(line) => {
                    let found = wanted(&line);
                    self.seen.push(line.clone());
                    if found {
                        return line;
                    }
                }
                Err(e) => panic!("no {what} ({e:?}); got:\n{}", self.seen.join("\n")),
            }
        }
    }

    /// Everything the stream carried, once it is closed.
    pub fn all(mut self) -> String {
        while let Ok(line) = self.rx.recv() {
            self.seen.push(line);
        }
        self.seen.join("\n").trim().to_owned()
    }
}

/// A running child with its output read as it comes.
pub struct Spawned {
    pub child: Child,
    pub what: String,
    pub out: Lines,
    pub err: Lines,
}

impl Spawned {
    pub fn finish(mut self) -> Run {
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

    /// Stops a child that runs until interrupted; what it printed until then.
    pub fn stop(mut self) -> Run {
        let _ = self.child.kill();
        let status = self.child.wait().unwrap();
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
pub fn countersign() -> Command {
    let mut cmd = Command::new(BIN);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("COUNTERSIGN_") {
            cmd.env_remove(name);
        }
    }
    cmd
}

/// The service in this process, on its own runtime and thread, stopped when dropped.
pub struct InProcess {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl InProcess {
    pub fn start(
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

/// A plain HTTP/1.1 GET: the status and body, or `None` if nothing answers.
pub fn http_get(port: u16, path: &str, bearer: Option<&str>) -> Option<(u16, String)> {
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

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .try_into()
        .unwrap()
}

/// An owner with its config directory, an approver device's, an agent key, and a service.
pub struct Scene {
    pub dir: PathBuf,
    pub owner_dir: PathBuf,
    pub device_dir: PathBuf,
    pub owner: String,
    pub agent: String,
    pub service: String,
    pub _in_process: Option<InProcess>,
}

impl Scene {
    /// Creates the directories, runs `countersign init` and makes an agent key; the
    /// service is yet to start.
    pub fn prepare(name: &str) -> Scene {
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
    pub fn new(name: &str) -> Scene {
        Scene::configured(name, |_| {})
    }

    /// A scene with the service running in this process, configured by `tweak`.
    pub fn configured(name: &str, tweak: impl FnOnce(&mut Config) + Send + 'static) -> Scene {
        let mut scene = Scene::prepare(name);
        let (service, url) = InProcess::start(&scene.dir, scene.owner.parse().unwrap(), tweak);
        scene._in_process = Some(service);
        scene.service = url;
        scene
    }

    pub fn command(&self, config_dir: &Path, args: &[&str]) -> Command {
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

    pub fn spawn(&self, config_dir: &Path, args: &[&str]) -> Spawned {
        let mut child = self.command(config_dir, args).spawn().unwrap();
        Spawned {
            out: Lines::new(child.stdout.take().unwrap()),
            err: Lines::new(child.stderr.take().unwrap()),
            child,
            what: format!("countersign {}", args.join(" ")),
        }
    }

    /// Runs as the owner (or an agent, with `--key`).
    pub fn owner(&self, args: &[&str]) -> Run {
        self.spawn(&self.owner_dir, args).finish()
    }

    /// Runs on the approver device.
    pub fn device(&self, args: &[&str]) -> Run {
        self.spawn(&self.device_dir, args).finish()
    }

    pub fn ok_owner(&self, args: &[&str]) -> String {
        let r = self.owner(args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        r.stdout
    }

    pub fn ok_device(&self, args: &[&str]) -> String {
        let r = self.device(args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        r.stdout
    }

    /// Registers the agent for `allow`.
    pub fn add_agent(&self, allow: &str) {
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
    pub fn pair_device(&self) -> String {
        self.pair_device_in(&self.device_dir, "test terminal")
    }

    /// Pairs the device whose configuration directory is `dir`, named `name`.
    pub fn pair_device_in(&self, dir: &Path, name: &str) -> String {
        let mut pair = self.spawn(
            &self.owner_dir,
            &["device", "pair", "--yes", "--name", "laptop"],
        );
        let code = pair.out.wait_for("pairing code: ");
        let code = code.split_whitespace().next().unwrap().to_owned();
        let join = self.spawn(dir, &["device", "join", &code, "--name", name]);
        let (pair, join) = (pair.finish(), join.finish());
        assert_eq!(pair.code, 0, "pair: {}", pair.stderr);
        assert_eq!(join.code, 0, "join: {}", join.stderr);
        let shown = line_after(&pair.stdout, "verification code: ");
        assert_eq!(shown, line_after(&join.stdout, "verification code: "));
        assert_eq!(shown.len(), 7, "{shown}");
        assert!(
            pair.stdout.contains(&format!("device \"{name}\"")),
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

    /// A `GET` of the service's API signed by the key in `key_file`: status and body.
    pub fn api_get(&self, key_file: &Path, path: &str) -> (u16, Json) {
        let port: u16 = self.service.rsplit(':').next().unwrap().parse().unwrap();
        let (_, info) = http_get(port, "/v1/service", None).unwrap();
        let info: Json = serde_json::from_str(&info).unwrap();
        let service: Did = info["did"].as_str().unwrap().parse().unwrap();
        let key = Keypair::from_pkcs8_pem(&std::fs::read_to_string(key_file).unwrap()).unwrap();
        let mut jti = [0u8; 16];
        getrandom::getrandom(&mut jti).unwrap();
        let jti = jti.iter().map(|b| format!("{b:02x}")).collect();
        let token = countersign_server::auth::jwt::issue(&key, &service, now(), 60, jti).unwrap();
        let (status, body) = http_get(port, path, Some(&token)).unwrap();
        (status, serde_json::from_str(&body).unwrap_or(Json::Null))
    }

    /// Starts `request --wait` for `extra` and returns it with the request's id.
    pub fn request_waiting(&self, extra: &[&str]) -> (Spawned, String) {
        let (request, id, _) = self.request_with_code(extra);
        (request, id)
    }

    /// Starts `request --wait` for `extra`: the process, the request's id and its code.
    pub fn request_with_code(&self, extra: &[&str]) -> (Spawned, String, String) {
        let mut args = vec!["request", "--key", "agent.pem", "--wait"];
        args.extend(extra);
        let mut request = self.spawn(&self.owner_dir, &args);
        let id = request.err.wait_for("request: ");
        let code = request.err.wait_for("code: ");
        assert!((10..100).contains(&code.parse::<u32>().unwrap()), "{code}");
        (request, id, code)
    }

    /// A fresh key for an executor that checks invocations.
    pub fn executor(&self) -> String {
        self.ok_owner(&["key", "generate", "--out", "executor.pem"])
    }

    pub fn invoke(&self, executor: &str, cmd: &str, args: &str, proof: &str) -> String {
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
pub fn line_after(text: &str, prefix: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line {prefix:?} in:\n{text}"))
        .trim()
        .to_owned()
}

pub fn assert_one_line_error(run: &Run, needle: &str) {
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stdout.is_empty(), "{run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
    assert!(run.stderr.starts_with("error: "), "{run:?}");
    assert!(run.stderr.contains(needle), "{needle:?} in {run:?}");
}

/// The `countersign serve` binary, killed when dropped.
pub struct Served(pub Child);

impl Served {
    /// Serves the scene's owner from `<scene>/data` on SQLite.
    pub fn start(scene: &Scene, port: u16) -> Served {
        Served::start_with(scene, port, &scene.dir.join("data"), &[])
    }

    /// Serves from `data_dir`, with extra `COUNTERSIGN_…` settings (a PostgreSQL URL, say);
    /// returns once it answers.
    pub fn start_with(scene: &Scene, port: u16, data_dir: &Path, env: &[(&str, String)]) -> Served {
        let log = |name: String| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(scene.dir.join(name))
                .unwrap()
        };
        let child = countersign()
            .arg("serve")
            .env("COUNTERSIGN_CONFIG_DIR", &scene.owner_dir)
            .env("COUNTERSIGN_DATA_DIR", data_dir)
            .env("COUNTERSIGN_LISTEN", format!("127.0.0.1:{port}"))
            .env("COUNTERSIGN_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
            .env("COUNTERSIGN_LOG", "warn")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(log(format!("serve-{port}.out")))
            .stderr(log(format!("serve-{port}.err")))
            .spawn()
            .unwrap();
        let mut served = Served(child);
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some((200, _)) = http_get(port, "/v1/service", None) {
                return served;
            }
            if let Some(status) = served.0.try_wait().unwrap() {
                let log = std::fs::read_to_string(scene.dir.join(format!("serve-{port}.err")))
                    .unwrap_or_default();
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
    pub fn kill(mut self) {
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

/// A free loopback port (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A plain HTTP/1.1 call with an optional JSON body: the status and the whole body, or
/// `None` if nothing answers or the connection breaks before the whole answer arrived.
pub fn http_call(
    port: u16,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: Option<&str>,
) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(PATIENCE)).ok()?;
    stream.set_write_timeout(Some(PATIENCE)).ok()?;
    let auth = bearer.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let content = body.map_or(String::new(), |b| {
        format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        )
    });
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}{content}Connection: close\r\n\r\n{}",
        body.unwrap_or("")
    )
    .ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let split = response.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let raw = &response[split + 4..];
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let header = |name: &str| {
        head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_ascii_lowercase())
        })
    };
    let body = if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        let mut body = Vec::new();
        let mut rest = raw;
        loop {
            let end = rest.windows(2).position(|w| w == b"\r\n")?;
            let size = std::str::from_utf8(&rest[..end]).ok()?;
            let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
            rest = &rest[end + 2..];
            if size == 0 {
                break body;
            }
            body.extend_from_slice(rest.get(..size)?);
            rest = rest.get(size + 2..)?;
        }
    } else if let Some(length) = header("content-length") {
        let length: usize = length.parse().ok()?;
        raw.get(..length)?.to_vec()
    } else {
        raw.to_vec()
    };
    Some((status, String::from_utf8_lossy(&body).into_owned()))
}
