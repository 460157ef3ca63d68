//! Test databases (a temp SQLite file or a throwaway PostgreSQL database, removed on
//! drop) and small builders for the records the store keeps.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use countersign_core::sample::SampleChain;
use countersign_core::{Command, Did, Keypair};
use countersign_server::store::{
    self, Agent, Approval, AuditEvent, CreateLimits, Denial, Device, Pairing, PairingState,
    Request, RequestState, RevokedEntry, Store, Timestamp, TokenRecord,
};
use serde_json::json;
use sqlx::Connection;

/// The fixed "now" of the tests (2026-01-01T00:00:00Z).
pub const T0: Timestamp = 1_767_225_600;
/// How long a test request stays pending.
pub const REQUEST_TTL: Timestamp = 300;
/// Limits that no test reaches unless it means to.
pub const NO_LIMITS: CreateLimits = CreateLimits {
    max_pending: 1000,
    rate_per_min: 1000,
};

const DATABASE_URL: &str = "COUNTERSIGN_TEST_DATABASE_URL";
const REQUIRE_POSTGRES: &str = "COUNTERSIGN_REQUIRE_POSTGRES";

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A store on a database of its own, deleted when this is dropped.
pub struct TestDb {
    store: Option<Arc<dyn Store>>,
    url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Dir(PathBuf),
    Database { admin_url: String, name: String },
}

/// A name no other test (or test process) uses at the same time.
fn unique_name() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "cs_test_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// `url` with its database (path) replaced by `name`, keeping any query string.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let host = base.find("://").map_or(0, |i| i + 3);
    let server = match base[host..].find('/') {
        Some(slash) => &base[..host + slash],
        None => base,
    };
    format!("{server}/{name}{query}")
}

impl TestDb {
    /// A fresh database on `backend`, or `None` (after saying so) if PostgreSQL is not
    /// configured. Panics if it is required (`COUNTERSIGN_REQUIRE_POSTGRES`) but not set.
    pub async fn new(backend: Backend) -> Option<TestDb> {
        let name = unique_name();
        let (url, cleanup) = match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(&name);
                std::fs::create_dir_all(&dir).unwrap();
                let url = format!("sqlite:{}", dir.join("countersign.db").display());
                (url, Cleanup::Dir(dir))
            }
            Backend::Postgres => {
                let Some(admin_url) = std::env::var(DATABASE_URL).ok().filter(|u| !u.is_empty())
                else {
                    if std::env::var_os(REQUIRE_POSTGRES).is_some_and(|v| !v.is_empty()) {
                        panic!("{REQUIRE_POSTGRES} is set but {DATABASE_URL} is not");
                    }
                    eprintln!("SKIPPED: set {DATABASE_URL} to run against PostgreSQL");
                    return None;
                };
                let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .await
                    .unwrap();
                admin.close().await.unwrap();
                let url = with_database(&admin_url, &name);
                (url, Cleanup::Database { admin_url, name })
            }
        };
        let store = store::open(&url).await.unwrap();
        Some(TestDb {
            store: Some(store),
            url,
            cleanup,
        })
    }

    /// The database URL, for tests that open more stores on it (as replicas do).
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone().unwrap()
    }

    /// Drops the store (the caller must hold no other handle) and opens the database again.
    pub async fn reopen(&mut self) {
        let closed = self.store.take().unwrap();
        assert_eq!(Arc::strong_count(&closed), 1, "the store is still in use");
        drop(closed);
        self.store = Some(store::open(&self.url).await.unwrap());
    }

    /// Runs raw SQL on the database, behind the store's back.
    pub async fn execute(&self, sql: &str) {
        if self.url.starts_with("sqlite:") {
            let mut conn = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
            sqlx::query(sql).execute(&mut conn).await.unwrap();
            conn.close().await.unwrap();
        } else {
            let mut conn = sqlx::PgConnection::connect(&self.url).await.unwrap();
            sqlx::query(sql).execute(&mut conn).await.unwrap();
            conn.close().await.unwrap();
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        drop(self.store.take());
        match &self.cleanup {
            Cleanup::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Database { admin_url, name } => {
                // Drop is synchronous: do the async work on a thread with its own runtime.
                let (admin_url, sql) = (
                    admin_url.clone(),
                    format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                );
                let dropped = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    runtime.block_on(async {
                        let mut admin = sqlx::PgConnection::connect(&admin_url).await?;
                        sqlx::query(&sql).execute(&mut admin).await?;
                        admin.close().await
                    })?;
                    Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
                })
                .join();
                if !matches!(dropped, Ok(Ok(()))) {
                    eprintln!("could not drop test database {name}");
                }
            }
        }
    }
}

/// The DID of the key with this seed byte.
pub fn did(n: u8) -> Did {
    Keypair::from_seed(&[n; 32]).did()
}

pub fn cmd(text: &str) -> Command {
    text.parse().unwrap()
}

/// Real signed tokens: owner → device, device → service, service → agent.
pub fn tokens() -> Vec<Vec<u8>> {
    let chain = SampleChain::build().unwrap();
    chain.delegations.into_iter().map(|d| d.bytes).collect()
}

pub fn agent(name: &str, n: u8) -> Agent {
    Agent {
        name: name.to_owned(),
        did: did(n),
        allow: vec![cmd("/payment/refund"), cmd("/email")],
        max_pending: 5,
        rate_per_min: 10,
        created_at: T0,
    }
}

/// What a test stores as the hash of a pairing code.
pub fn code_hash(code: &str) -> Vec<u8> {
    format!("sha256:{code}").into_bytes()
}

pub fn pairing(id: &str, code: &str, expires_at: Timestamp) -> Pairing {
    Pairing {
        id: id.to_owned(),
        code_hash: code_hash(code),
        name: Some("Alice's phone".to_owned()),
        allow: vec![cmd("/payment")],
        policy: json!([["<=", ".amount", 100000]]),
        device_lifetime: 90 * 86_400,
        created_at: T0,
        expires_at,
        state: PairingState::Open,
        device_did: None,
        device_name: None,
        device_id: None,
    }
}

pub fn device(id: &str, n: u8, standing: Vec<Vec<u8>>) -> Device {
    Device {
        id: id.to_owned(),
        name: format!("device {id}"),
        did: did(n),
        standing,
        created_at: T0,
        removed_at: None,
    }
}

/// A pending request by the agent with seed `n`, pending for `REQUEST_TTL` seconds.
pub fn request(id: &str, n: u8, created_at: Timestamp) -> Request {
    Request {
        id: id.to_owned(),
        agent_name: format!("agent-{n}"),
        agent_did: did(n),
        command: cmd("/payment/refund"),
        subject: did(1),
        args: Some(json!({"charge": "ch_1", "amount": 4900, "currency": "usd"})),
        policy: json!([["==", ".charge", "ch_1"], ["<=", ".amount", 4900]]),
        summary: "Refund $49.00".to_owned(),
        reason: "customer asked".to_owned(),
        diff: None,
        lifetime: 300,
        code: "42".to_owned(),
        created_at,
        expires_at: created_at + REQUEST_TTL,
        state: RequestState::Pending,
        decided_at: None,
        decided_by: None,
        denial_reason: None,
        evidence: None,
        chain: Vec::new(),
    }
}

pub fn approval(at: Timestamp) -> Approval {
    let chain = SampleChain::build().unwrap();
    let kinds = ["standing", "approval", "issued"];
    let records = chain
        .delegations
        .iter()
        .zip(kinds)
        .enumerate()
        .map(|(i, (d, kind))| TokenRecord {
            cid: d.cid.to_string(),
            kind: kind.to_owned(),
            issuer: d.token.issuer,
            audience: d.token.audience,
            command: d.token.command.as_str().to_owned(),
            request_id: None,
            agent_did: (kind == "issued").then_some(d.token.audience),
            issued_at: at,
            expires_at: d.token.expiration.map(|exp| i64::try_from(exp).unwrap()),
            revokers: chain.delegations[..=i]
                .iter()
                .map(|d| d.token.issuer)
                .collect(),
            revoked_at: None,
            bytes: d.bytes.clone(),
        })
        .collect();
    Approval {
        device: did(2),
        at,
        envelope: chain.delegations[1].bytes.clone(),
        chain: chain.delegations.iter().map(|d| d.bytes.clone()).collect(),
        issued_cid: chain.delegations[2].cid.to_string(),
        issued_expires_at: at + 300,
        tokens: records,
    }
}

/// A token record (stand-in bytes) issued to the agent with seed `agent`.
pub fn token(cid: &str, kind: &str, agent: u8, issued_at: Timestamp) -> TokenRecord {
    TokenRecord {
        cid: cid.to_owned(),
        kind: kind.to_owned(),
        issuer: did(3),
        audience: did(agent),
        command: "/payment/refund".to_owned(),
        request_id: Some(format!("req-{cid}")),
        agent_did: Some(did(agent)),
        issued_at,
        expires_at: Some(issued_at + 300),
        revokers: vec![did(1), did(2), did(3)],
        revoked_at: None,
        bytes: format!("token {cid}").into_bytes(),
    }
}

/// An audit event at `at` about `subject`, with a little data.
pub fn event(at: Timestamp, kind: &str, subject: &str) -> AuditEvent {
    AuditEvent::new(
        at,
        kind,
        did(1),
        subject,
        json!({"n": at - T0, "tags": ["a", "b"]}),
    )
}

pub fn denial(at: Timestamp) -> Denial {
    Denial {
        device: did(2),
        at,
        reason: "not this one".to_owned(),
        statement: b"signed denial statement".to_vec(),
    }
}

/// A revocation by the owner (seed 1) of `cid` at `at`, for `Store::revoke`.
pub fn revocation(cid: &str, at: Timestamp, record: Option<&str>) -> RevokedEntry {
    RevokedEntry {
        cursor: 0,
        cid: cid.to_owned(),
        revoked_at: at,
        revoked_by: did(1).to_string(),
        reason: "lost laptop".to_owned(),
        record: record.map(str::to_owned),
    }
}
