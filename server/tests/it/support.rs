//! An in-process service over a temporary SQLite file, a hand-set clock, and helpers that
//! play the owner, agents and devices.

pub mod listener;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use countersign_core::policy::{Policy, PolicyLimits};
use countersign_core::sample::CountingNonces;
use countersign_core::{Command, DelegationBuilder, Did, Keypair, json};
use countersign_server::auth::jwt;
use countersign_server::clock::ManualClock;
use countersign_server::config::Config;
use countersign_server::state::AppState;
use data_encoding::BASE64;
use serde_json::{Value, json};
use tower::ServiceExt;

pub const NOW: i64 = 1_800_000_000;

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique() -> u64 {
    COUNTER.fetch_add(1, Ordering::SeqCst)
}

pub fn key(n: u8) -> Keypair {
    Keypair::from_seed(&[n; 32])
}

/// A served instance: [`Served::stop`] shuts it down and checks it stopped cleanly.
pub struct Served {
    pub addr: std::net::SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Served {
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
    }
}

pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    pub owner: Keypair,
    pub service: Did,
    dir: PathBuf,
}

impl TestApp {
    pub async fn new() -> TestApp {
        let dir = std::env::temp_dir().join(format!("cs-api-{}-{}", std::process::id(), unique()));
        std::fs::create_dir_all(&dir).unwrap();
        Self::open(dir, Arc::new(ManualClock::new(NOW))).await
    }

    async fn open(dir: PathBuf, clock: Arc<ManualClock>) -> TestApp {
        Self::open_with(dir, clock, |_| {}).await
    }

    /// A fresh instance whose configuration `tune` adjusts.
    pub async fn with_config(tune: impl FnOnce(&mut Config)) -> TestApp {
        let dir = std::env::temp_dir().join(format!("cs-api-{}-{}", std::process::id(), unique()));
        std::fs::create_dir_all(&dir).unwrap();
        Self::open_with(dir, Arc::new(ManualClock::new(NOW)), tune).await
    }

    async fn open_with(
        dir: PathBuf,
        clock: Arc<ManualClock>,
        tune: impl FnOnce(&mut Config),
    ) -> TestApp {
        let url = format!("sqlite:{}", dir.join("countersign.db").display());
        let store = countersign_server::store::open(&url).await.unwrap();
        let owner = key(1);
        let service = key(9);
        let mut config = Config {
            data_dir: dir.clone(),
            ..Config::default()
        };
        tune(&mut config);
        let state = AppState::new(store, service.clone(), owner.did(), config, clock.clone());
        TestApp {
            router: countersign_server::app(state.clone()),
            state,
            clock,
            owner,
            service: service.did(),
            dir,
        }
    }

    /// The SQLite URL of this instance's database, for tests that tamper with it.
    pub fn db_url(&self) -> String {
        format!("sqlite:{}", self.dir.join("countersign.db").display())
    }

    /// The same data directory and clock, as after a restart.
    pub async fn restart(self) -> TestApp {
        let (dir, clock) = (self.dir.clone(), self.clock.clone());
        // Keep the directory: this instance's Drop must not remove it.
        std::mem::forget(self);
        Self::open(dir, clock).await
    }

    /// The same data directory and clock under another configuration, as after a restart.
    pub async fn restart_with(self, tune: impl FnOnce(&mut Config)) -> TestApp {
        let (dir, clock) = (self.dir.clone(), self.clock.clone());
        std::mem::forget(self);
        Self::open_with(dir, clock, tune).await
    }

    /// Helpers over a router someone else built (a replica); the directory is not ours.
    pub fn on(router: Router, state: AppState, clock: Arc<ManualClock>) -> TestApp {
        TestApp {
            router,
            state,
            clock,
            owner: key(1),
            service: key(9).did(),
            dir: PathBuf::new(),
        }
    }

    /// This instance served on a real loopback listener.
    pub async fn serve(&self) -> Served {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(countersign_server::serve(
            listener,
            self.state.clone(),
            async {
                let _ = stopped.await;
            },
        ));
        Served { addr, stop, task }
    }

    pub fn jwt(&self, key: &Keypair) -> String {
        jwt::issue(
            key,
            &self.service,
            self.clock_now(),
            60,
            format!("jti-{}", unique()),
        )
        .unwrap()
    }

    pub fn clock_now(&self) -> i64 {
        use countersign_server::clock::Clock;
        self.clock.now()
    }

    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        token: Option<String>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)))
        };
        (status, value)
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        as_key: Option<&Keypair>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let token = as_key.map(|k| self.jwt(k));
        self.call_with(method, path, token, body).await
    }

    pub async fn add_agent(&self, name: &str, agent: &Keypair, allow: &[&str]) {
        let (s, b) = self
            .call(
                Method::POST,
                "/v1/agents",
                Some(&self.owner),
                Some(json!({"name": name, "did": agent.did().to_string(), "allow": allow})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }

    /// Runs the whole pairing: open, claim by `device`, confirm with standing delegations.
    pub async fn pair(&self, device: &Keypair, allow: &[&str], policy: Value) -> String {
        let (s, created) = self
            .call(
                Method::POST,
                "/v1/pairings",
                Some(&self.owner),
                Some(json!({"name": "phone", "allow": allow, "policy": policy})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{created}");
        let code = created["code"].as_str().unwrap().to_owned();
        let id = created["id"].as_str().unwrap().to_owned();
        let (s, claimed) = self
            .call(
                Method::POST,
                "/v1/pairings/claim",
                Some(device),
                Some(json!({"code": code.to_lowercase(), "name": "Ana's phone"})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{claimed}");
        let local =
            countersign_server::pairing::verification_string(&code, &device.did(), &self.service);
        assert_eq!(claimed["verification"], local.as_str());
        let delegations: Vec<String> = allow
            .iter()
            .map(|cmd| {
                let signed = DelegationBuilder::new(
                    device.did(),
                    Some(self.owner.did()),
                    cmd.parse().unwrap(),
                )
                .policy(policy_of(&policy))
                .expiration(Some(as_u64(self.clock_now()) + 90 * 86_400))
                .sign(&self.owner, &mut CountingNonces::new(unique()));
                BASE64.encode(&signed.bytes)
            })
            .collect();
        let (s, confirmed) = self
            .call(
                Method::POST,
                &format!("/v1/pairings/{id}/confirm"),
                Some(&self.owner),
                Some(json!({"delegations": delegations})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{confirmed}");
        confirmed["device_id"].as_str().unwrap().to_owned()
    }

    pub async fn request(&self, agent: &Keypair, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, "/v1/requests", Some(agent), Some(body))
            .await
    }

    /// The device → service delegation a device signs for a request it fetched.
    pub fn approval_for(
        &self,
        device: &Keypair,
        view: &Value,
        extra: Value,
        lifetime: u64,
    ) -> String {
        let mut statements = view["policy"].as_array().unwrap().clone();
        statements.extend(extra.as_array().cloned().unwrap_or_default());
        let cmd: Command = view["cmd"].as_str().unwrap().parse().unwrap();
        self.sign_approval(device, cmd, policy_of(&Value::Array(statements)), lifetime)
    }

    pub fn sign_approval(
        &self,
        device: &Keypair,
        cmd: Command,
        policy: Policy,
        lifetime: u64,
    ) -> String {
        let signed = DelegationBuilder::new(self.service, Some(self.owner.did()), cmd)
            .policy(policy)
            .expiration(Some(as_u64(self.clock_now()) + lifetime))
            .sign(device, &mut CountingNonces::new(unique()));
        BASE64.encode(&signed.bytes)
    }

    pub async fn approve(
        &self,
        device: &Keypair,
        id: &str,
        delegation: String,
    ) -> (StatusCode, Value) {
        self.call(
            Method::POST,
            &format!("/v1/requests/{id}/approve"),
            Some(device),
            Some(json!({ "delegation": delegation })),
        )
        .await
    }

    /// A device's signed denial statement: `about` is the request id it names.
    pub fn denial(&self, device: &Keypair, about: &str, reason: &str) -> String {
        jwt::sign(
            device,
            &jwt::Claims {
                iss: device.did().to_string(),
                aud: self.service.to_string(),
                iat: self.clock_now(),
                exp: self.clock_now() + 60,
                jti: format!("deny-{}", unique()),
                sub: Some(about.to_owned()),
                reason: Some(reason.to_owned()),
            },
        )
        .unwrap()
    }

    /// Denies request `id` from `device` with a statement about `about`.
    pub async fn deny(
        &self,
        device: &Keypair,
        id: &str,
        about: &str,
        reason: &str,
    ) -> (StatusCode, Value) {
        let body = json!({"reason": reason, "statement": self.denial(device, about, reason)});
        self.call(
            Method::POST,
            &format!("/v1/requests/{id}/deny"),
            Some(device),
            Some(body),
        )
        .await
    }

    pub async fn view(&self, as_key: &Keypair, id: &str) -> Value {
        let (s, v) = self
            .call(
                Method::GET,
                &format!("/v1/requests/{id}"),
                Some(as_key),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn policy_of(v: &Value) -> Policy {
    Policy::parse(&json::from_json(v).unwrap(), &PolicyLimits::default()).unwrap()
}

pub fn as_u64(t: i64) -> u64 {
    u64::try_from(t).unwrap()
}
