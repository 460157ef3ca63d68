//! The load's clients: the service's API signed as each principal, the principals, the
//! ledger of what was acknowledged, and the device's decisions.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use countersign_core::container::{Container, ContainerLimits};
use countersign_core::envelope::{Envelope, TokenKind};
use countersign_core::policy::{Policy, PolicyLimits};
use countersign_core::token::NONCE_LEN;
use countersign_core::{Cid, Command, Delegation, DelegationBuilder, Did, Keypair, json};
use countersign_server::auth::jwt::{self, Claims};
use data_encoding::BASE64;
use serde_json::{Value as Json, json};

use super::{CMD, eventually, random_hex};
use crate::support::{Scene, http_call, now};

/// The service's API as its principals call it, each call signed with a fresh JWT. With
/// several replicas, calls take turns among them.
pub struct Api {
    pub ports: Vec<u16>,
    turn: AtomicUsize,
    pub service: Did,
    pub owner: Did,
}

impl Api {
    /// Asks the first replica who the service is; it must be answering.
    pub fn connect(ports: Vec<u16>) -> Api {
        let (status, info) = http_call(ports[0], "GET", "/v1/service", None, None).unwrap();
        assert_eq!(status, 200, "{info}");
        let info: Json = serde_json::from_str(&info).unwrap();
        Api {
            service: info["did"].as_str().unwrap().parse().unwrap(),
            owner: info["owner"].as_str().unwrap().parse().unwrap(),
            ports,
            turn: AtomicUsize::new(0),
        }
    }

    /// The same service, called on `port` only.
    pub fn pinned(&self, port: u16) -> Api {
        Api {
            ports: vec![port],
            turn: AtomicUsize::new(0),
            service: self.service,
            owner: self.owner,
        }
    }

    pub fn call(
        &self,
        key: &Keypair,
        method: &str,
        path: &str,
        body: Option<&Json>,
    ) -> Option<(u16, Json)> {
        let turn = self.turn.fetch_add(1, Ordering::Relaxed);
        self.call_on(self.ports[turn % self.ports.len()], key, method, path, body)
    }

    /// The status and body (JSON, or the text as a JSON string), or `None` without an
    /// answer.
    pub fn call_on(
        &self,
        port: u16,
        key: &Keypair,
        method: &str,
        path: &str,
        body: Option<&Json>,
    ) -> Option<(u16, Json)> {
        let token = jwt::issue(key, &self.service, now(), 60, random_hex()).unwrap();
        let body = body.map(Json::to_string);
        let (status, text) = http_call(port, method, path, Some(&token), body.as_deref())?;
        let parsed = serde_json::from_str(&text).unwrap_or(Json::String(text));
        Some((status, parsed))
    }

    /// Sends a call and goes away `after` it was sent, without reading the answer: the
    /// service's work on it is cancelled wherever it happens to be.
    pub fn abandon(&self, key: &Keypair, method: &str, path: &str, body: &Json, after: Duration) {
        let port = self.ports[self.turn.fetch_add(1, Ordering::Relaxed) % self.ports.len()];
        let token = jwt::issue(key, &self.service, now(), 60, random_hex()).unwrap();
        let body = body.to_string();
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
            return;
        };
        let _ = write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        thread::sleep(after);
        let _ = stream.shutdown(std::net::Shutdown::Both);
    }

    /// A call that must succeed (the service is up and settled): its body.
    pub fn ok(&self, key: &Keypair, method: &str, path: &str, body: Option<&Json>) -> Json {
        eventually(&format!("{method} {path}"), || {
            match self.call_on(self.ports[0], key, method, path, body) {
                Some((200..=299, body)) => Ok(body),
                other => Err(format!("answered {other:?}")),
            }
        })
    }
}

/// An agent of the load, by name.
pub struct Agent {
    pub name: String,
    pub key: Keypair,
}

/// The owner, one paired device and the agents, registered with the running service
/// (`scene.service`).
pub struct Cast {
    pub owner: Keypair,
    pub device: Keypair,
    pub agents: Vec<Agent>,
}

fn read_key(path: &std::path::Path) -> Keypair {
    Keypair::from_pkcs8_pem(&std::fs::read_to_string(path).unwrap()).unwrap()
}

impl Cast {
    pub fn enlist(scene: &Scene, agents: usize) -> Cast {
        let agents = (1..=agents)
            .map(|n| {
                let (name, file) = (format!("agent{n}"), format!("agent{n}.pem"));
                let did = scene.ok_owner(&["key", "generate", "--out", &file]);
                scene.ok_owner(&["agent", "add", &name, "--did", &did, "--allow", CMD]);
                Agent {
                    name,
                    key: read_key(&scene.dir.join(file)),
                }
            })
            .collect();
        scene.pair_device();
        Cast {
            owner: read_key(&scene.owner_dir.join("owner.pem")),
            device: read_key(&scene.device_dir.join("device.pem")),
            agents,
        }
    }

    pub fn agent(&self, name: &str) -> &Agent {
        self.agents.iter().find(|a| a.name == name).unwrap()
    }
}

/// What the load was told, kept by the clients: only an answer with a 2xx status counts.
#[derive(Default)]
pub struct Ledger {
    /// Requests whose creation was acknowledged, and their agent.
    pub created: Mutex<BTreeMap<String, String>>,
    pub approved: Mutex<BTreeSet<String>>,
    pub denied: Mutex<BTreeSet<String>>,
    /// CIDs of issued tokens whose revocation was acknowledged.
    pub revoked: Mutex<BTreeSet<String>>,
    /// The first chain each approved request's agent fetched.
    pub chains: Mutex<BTreeMap<String, String>>,
    /// What must never happen: a chain that changed, an unexpected refusal.
    pub violations: Mutex<Vec<String>>,
    /// Answers with a 5xx status: the call, the status and the body.
    pub server_errors: Mutex<Vec<(String, u16, Json)>>,
    /// Calls that got no (complete) answer.
    pub unanswered: AtomicUsize,
}

impl Ledger {
    /// The body of a 2xx answer; anything else is noted (`expected` statuses quietly).
    pub fn answer(
        &self,
        what: &str,
        answer: Option<(u16, Json)>,
        expected: &[u16],
    ) -> Option<Json> {
        match answer {
            Some((200..=299, body)) => Some(body),
            None => {
                self.unanswered.fetch_add(1, Ordering::Relaxed);
                None
            }
            Some((status, body)) if status >= 500 => {
                self.server_errors
                    .lock()
                    .unwrap()
                    .push((what.to_owned(), status, body));
                None
            }
            Some((status, _)) if expected.contains(&status) => None,
            Some((status, body)) => {
                self.violate(format!("{what}: unexpected {status} {body}"));
                None
            }
        }
    }

    fn violate(&self, what: String) {
        self.violations.lock().unwrap().push(what);
    }

    pub fn fetched(&self, id: &str, container: &str) {
        let mut chains = self.chains.lock().unwrap();
        match chains.get(id) {
            Some(first) if first != container => {
                drop(chains);
                self.violate(format!("{id}: a different chain on a later fetch"));
            }
            Some(_) => {}
            None => {
                chains.insert(id.to_owned(), container.to_owned());
            }
        }
    }
}

/// How a decision attempt ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Decided {
    /// The service acknowledged it (recorded in the ledger).
    Acked,
    /// The request was no longer pending (decided by an earlier, unacknowledged attempt).
    Settled,
    /// No answer, or a failure: try again.
    Unanswered,
}

/// The device reads request `id` and approves it with a signed delegation of exactly what
/// was asked, or denies it with a signed statement.
pub fn decide(api: &Api, cast: &Cast, ledger: &Ledger, id: &str, approve: bool) -> Decided {
    let path = format!("/v1/requests/{id}");
    let read = api.call(&cast.device, "GET", &path, None);
    let Some(view) = ledger.answer("device read", read, &[]) else {
        return Decided::Unanswered;
    };
    if view["state"] != "pending" {
        return Decided::Settled;
    }
    let (path, body) = if approve {
        let cmd: Command = view["cmd"].as_str().unwrap().parse().unwrap();
        let policy = json::from_json(&view["policy"]).unwrap();
        let policy = Policy::parse(&policy, &PolicyLimits::default()).unwrap();
        let expires = u64::try_from(now()).unwrap() + view["lifetime"].as_u64().unwrap();
        let mut nonces = || {
            let mut nonce = [0u8; NONCE_LEN];
            getrandom::getrandom(&mut nonce).unwrap();
            nonce
        };
        let signed = DelegationBuilder::new(api.service, Some(api.owner), cmd)
            .policy(policy)
            .expiration(Some(expires))
            .sign(&cast.device, &mut nonces);
        let body = json!({ "delegation": BASE64.encode(&signed.bytes) });
        (format!("{path}/approve"), body)
    } else {
        let claims = Claims {
            iss: cast.device.did().to_string(),
            aud: api.service.to_string(),
            iat: now(),
            exp: now() + 60,
            jti: random_hex(),
            sub: Some(id.to_owned()),
            reason: Some("not now".into()),
        };
        let statement = jwt::sign(&cast.device, &claims).unwrap();
        let body = json!({ "reason": "not now", "statement": statement });
        (format!("{path}/deny"), body)
    };
    let answer = api.call(&cast.device, "POST", &path, Some(&body));
    if let Some((409, _)) = answer {
        return Decided::Settled;
    }
    match ledger.answer("decision", answer, &[]) {
        Some(_) => {
            let book = if approve {
                &ledger.approved
            } else {
                &ledger.denied
            };
            book.lock().unwrap().insert(id.to_owned());
            Decided::Acked
        }
        None => Decided::Unanswered,
    }
}

/// The CID of the token the service issued in `container` (the service → agent link).
pub fn issued_cid(container: &str, service: &Did) -> String {
    let tokens = Container::parse(container.as_bytes(), &ContainerLimits::default())
        .unwrap()
        .into_tokens();
    tokens
        .iter()
        .find(|t| {
            let envelope = Envelope::open(t).unwrap();
            envelope.kind == TokenKind::Delegation
                && Delegation::from_payload(envelope.payload.clone(), &PolicyLimits::default())
                    .unwrap()
                    .issuer
                    == *service
        })
        .map(|t| Cid::dag_cbor(t).to_string())
        .unwrap()
}
