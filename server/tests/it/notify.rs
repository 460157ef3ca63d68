//! Helpers of the notification tests: a loopback HTTP stand-in for push services, ntfy and
//! webhook receivers; the browser's side of Web Push in Python (http_ece, an independent
//! RFC 8291 implementation); a VAPID token check; and a service with a paired device.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use countersign_core::Keypair;
use countersign_server::config::Config;
use countersign_server::notify::{self, Channels, Notifier, Secrets, VapidKey};
use data_encoding::BASE64URL_NOPAD;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::support::{TestApp, key};

pub const CONTACT: &str = "mailto:push-tests@countersign.dev";
const REQUIRE_PUSH: &str = "COUNTERSIGN_REQUIRE_PUSH";

/// One request the stand-in received.
#[derive(Debug)]
pub struct Received {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

type Replies = Arc<Mutex<HashMap<String, VecDeque<(u16, Option<&'static str>)>>>>;

/// An HTTP server on 127.0.0.1 that records every request and answers 201 unless a reply
/// was scripted for its path.
pub struct StandIn {
    pub base: String,
    received: tokio::sync::Mutex<mpsc::UnboundedReceiver<Received>>,
    replies: Replies,
}

impl StandIn {
    pub async fn start() -> StandIn {
        let (tx, rx) = mpsc::unbounded_channel();
        let replies: Replies = Arc::default();
        let app = axum::Router::new()
            .fallback(record)
            .with_state((tx, replies.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        StandIn {
            base,
            received: tokio::sync::Mutex::new(rx),
            replies,
        }
    }

    /// Answers the next requests to `path` with these statuses (and `Retry-After`s).
    pub fn script(&self, path: &str, replies: &[(u16, Option<&'static str>)]) {
        let mut all = self.replies.lock().unwrap();
        all.entry(path.to_owned())
            .or_default()
            .extend(replies.iter().copied());
    }

    /// The next request, waiting up to 10 s.
    pub async fn next(&self) -> Received {
        let mut rx = self.received.lock().await;
        tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("nothing arrived within 10 s")
            .unwrap()
    }

    /// Everything received so far, without waiting.
    pub async fn drain(&self) -> Vec<Received> {
        let mut rx = self.received.lock().await;
        std::iter::from_fn(|| rx.try_recv().ok()).collect()
    }
}

async fn record(
    State((tx, replies)): State<(mpsc::UnboundedSender<Received>, Replies)>,
    request: Request,
) -> Response {
    let at = Instant::now();
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap().to_vec();
    let path = parts.uri.path().to_owned();
    let reply = replies
        .lock()
        .unwrap()
        .get_mut(&path)
        .and_then(VecDeque::pop_front);
    let _ = tx.send(Received {
        method: parts.method,
        path,
        headers: parts.headers,
        body,
        at,
    });
    let (status, retry_after) = reply.unwrap_or((201, None));
    let status = StatusCode::from_u16(status).unwrap();
    match retry_after {
        Some(after) => (status, [("retry-after", after)], "{}").into_response(),
        None => (status, "").into_response(),
    }
}

/// The browser's side of a subscription, in Python's http_ece.
pub struct Browser {
    script: PathBuf,
    pub private: String,
    pub p256dh: String,
    pub auth: String,
}

impl Browser {
    /// A new subscription key pair, or `None` (after saying why) when Python or http_ece is
    /// missing, unless `COUNTERSIGN_REQUIRE_PUSH` makes that an error.
    pub fn new() -> Option<Browser> {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/webpush_receiver.py");
        let out = Command::new("python3").arg(&script).arg("keygen").output();
        let out = match out {
            Ok(out) if out.status.success() => out,
            other => {
                let why = match other {
                    Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_owned(),
                    Err(e) => format!("python3: {e}"),
                };
                if std::env::var_os(REQUIRE_PUSH).is_some_and(|v| !v.is_empty()) {
                    panic!("{REQUIRE_PUSH} is set but the Web Push receiver cannot run: {why}");
                }
                eprintln!("SKIPPED: Web Push decryption needs python3 with http_ece ({why})");
                return None;
            }
        };
        let keys: Value = serde_json::from_slice(&out.stdout).unwrap();
        Some(Browser {
            script,
            private: keys["private"].as_str().unwrap().to_owned(),
            p256dh: keys["p256dh"].as_str().unwrap().to_owned(),
            auth: keys["auth"].as_str().unwrap().to_owned(),
        })
    }

    /// Decrypts an aes128gcm body with http_ece and parses the JSON inside.
    pub fn decrypt(&self, body: &[u8]) -> Value {
        use std::io::Write;
        let mut child = Command::new("python3")
            .arg(&self.script)
            .args(["decrypt", &self.private, &self.auth])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(body).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "http_ece could not decrypt: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    pub fn subscription(&self, endpoint: &str) -> Value {
        json!({"endpoint": endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth},
               "expirationTime": null})
    }
}

/// Checks `Authorization: vapid t=<JWT>, k=<key>` as a push service would (RFC 8292): the
/// key is the service's, the ES256 signature verifies with it, `aud` is the endpoint's
/// origin, `exp` is in the future and at most 24 h away, `sub` is the contact.
pub fn check_vapid(got: &Received, origin: &str, public_key: &str) {
    let auth = got.header("authorization");
    let params = auth.strip_prefix("vapid ").expect("a vapid scheme");
    let mut t = None;
    let mut k = None;
    for part in params.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = Some(v.to_owned()),
            Some(("k", v)) => k = Some(v.to_owned()),
            _ => panic!("unexpected {part:?} in {auth}"),
        }
    }
    let (t, k) = (t.unwrap(), k.unwrap());
    assert_eq!(k, public_key, "k is the service's VAPID key");
    let verifying =
        VerifyingKey::from_sec1_bytes(&BASE64URL_NOPAD.decode(k.as_bytes()).unwrap()).unwrap();
    let (signed, signature) = t.rsplit_once('.').unwrap();
    let signature =
        Signature::from_slice(&BASE64URL_NOPAD.decode(signature.as_bytes()).unwrap()).unwrap();
    verifying
        .verify(signed.as_bytes(), &signature)
        .expect("the VAPID signature verifies with k");
    let (header, claims) = signed.split_once('.').unwrap();
    let decode = |part: &str| -> Value {
        serde_json::from_slice(&BASE64URL_NOPAD.decode(part.as_bytes()).unwrap()).unwrap()
    };
    assert_eq!(decode(header)["alg"], "ES256");
    let claims = decode(claims);
    assert_eq!(claims["aud"], origin, "{claims}");
    assert_eq!(claims["sub"], CONTACT, "{claims}");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let exp = claims["exp"].as_u64().unwrap();
    assert!(exp > now && exp <= now + 86_400, "exp {exp} at {now}");
}

/// A service with Web Push configured, its VAPID key, an agent and a paired device.
pub struct Scene {
    pub app: TestApp,
    pub agent: Keypair,
    pub device: Keypair,
    pub device_id: String,
    pub vapid: VapidKey,
}

impl Scene {
    pub async fn new(tune: impl FnOnce(&mut Config)) -> Scene {
        let app = TestApp::with_config(|c| {
            c.public_url = "https://countersign.test".into();
            c.push.contact = CONTACT.into();
            c.push.allow_insecure_endpoints = true;
            tune(c);
        })
        .await;
        let vapid = VapidKey::generate().unwrap();
        let _ = app.state.clone().with_vapid_key(vapid.clone());
        let (agent, device) = (key(4), key(2));
        app.add_agent("billing-bot", &agent, &["/payment"]).await;
        let device_id = app.pair(&device, &["/payment"], json!([])).await;
        Scene {
            app,
            agent,
            device,
            device_id,
            vapid,
        }
    }

    /// Registers a push subscription of the device; asserts it is accepted.
    pub async fn subscribe(&self, body: Value) {
        let (s, v) = self
            .app
            .call(
                Method::POST,
                "/v1/push/subscriptions",
                Some(&self.device),
                Some(body),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }

    /// A pending request by the agent; returns its id.
    pub async fn request(&self, summary: &str) -> String {
        let (s, v) = self
            .app
            .request(
                &self.agent,
                json!({
                    "cmd": "/payment/refund",
                    "args": {"charge": "ch_secret", "amount": 4900},
                    "summary": summary,
                    "reason": "customer asked",
                    "diff": {"text": "refund of ch_secret"},
                }),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["id"].as_str().unwrap().to_owned()
    }

    pub async fn withdraw(&self, id: &str) {
        let (s, v) = self
            .app
            .call(
                Method::POST,
                &format!("/v1/requests/{id}/withdraw"),
                Some(&self.agent),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }

    /// A worker over this service, driven round by round by the test.
    pub fn notifier(&self, secrets: Secrets) -> Notifier {
        let channels: Channels = notify::channels(&self.app.state, secrets);
        Notifier::new(self.app.state.clone(), channels).unwrap()
    }

    /// The audit entries about `subject` of one kind.
    pub async fn audit(&self, subject: &str, kind: &str) -> Vec<Value> {
        let entries = self.app.state.store.audit_entries(0, 0).await.unwrap();
        entries
            .into_iter()
            .filter(|e| e.subject == subject && e.kind == kind)
            .map(|e| e.data)
            .collect()
    }
}
