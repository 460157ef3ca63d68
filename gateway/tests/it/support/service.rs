//! A fake Countersign service on loopback: the revocation feed (pages and live stream)
//! and the receipts endpoint, as the gateway's contract describes them.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use countersign_core::{Cid, Did};
use countersign_gateway::receipts::ReceiptToken;
use countersign_gateway::store::Revocation;
use futures_util::StreamExt;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{Notify, broadcast, oneshot};

/// One receipt as the service received it, with the claims of the token that carried it.
#[derive(Clone, Debug)]
pub struct Delivered {
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub invocation: String,
    pub route: String,
    pub outcome: String,
    pub status: i64,
    pub at: i64,
    pub error: Option<String>,
}

#[derive(Clone, Debug)]
enum Event {
    Revocation(Revocation),
    KeepAlive,
    /// Ends every open stream.
    Hangup,
}

#[derive(Debug)]
struct Inner {
    did: Did,
    revocations: Mutex<Vec<Revocation>>,
    events: broadcast::Sender<Event>,
    receipts: Mutex<Vec<String>>,
    /// Receipts in the tokens received.
    receipt_count: AtomicUsize,
    receipts_changed: Notify,
    fail_receipts: AtomicUsize,
    /// Tokens carrying more receipts than this are refused as too large (0: no limit).
    max_per_token: AtomicUsize,
    /// The `after` of every catch-up request and stream opened.
    polls: Mutex<Vec<i64>>,
    streams: Mutex<Vec<i64>>,
}

/// The fake service; it stops when dropped.
#[derive(Debug)]
pub struct FakeService {
    pub url: String,
    inner: Arc<Inner>,
    _stop: oneshot::Sender<()>,
}

#[derive(Deserialize)]
struct After {
    after: i64,
    #[serde(default)]
    limit: Option<usize>,
}

impl FakeService {
    pub async fn start(did: Did) -> FakeService {
        let inner = Arc::new(Inner {
            did,
            revocations: Mutex::default(),
            events: broadcast::channel(64).0,
            receipts: Mutex::default(),
            receipt_count: AtomicUsize::new(0),
            receipts_changed: Notify::new(),
            fail_receipts: AtomicUsize::new(0),
            max_per_token: AtomicUsize::new(0),
            polls: Mutex::default(),
            streams: Mutex::default(),
        });
        let app = Router::new()
            .route("/v1/service", get(service_info))
            .route("/v1/revocations", get(page))
            .route("/v1/revocations/events", get(events))
            .route("/v1/receipts", post(receipt))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        FakeService {
            url,
            inner,
            _stop: stop,
        }
    }

    /// Publishes a revocation; returns its cursor.
    pub fn revoke(&self, cid: &Cid) -> i64 {
        let mut list = self.inner.revocations.lock().unwrap();
        let item = Revocation {
            cursor: list.len() as i64 + 1,
            cid: cid.to_string(),
            revoked_at: 1_800_000_000,
        };
        list.push(item.clone());
        let cursor = item.cursor;
        let _ = self.inner.events.send(Event::Revocation(item));
        cursor
    }

    /// Publishes a revocation without telling open streams (as if it was missed).
    pub fn revoke_quietly(&self, cid: &Cid) -> i64 {
        let mut list = self.inner.revocations.lock().unwrap();
        let cursor = list.len() as i64 + 1;
        list.push(Revocation {
            cursor,
            cid: cid.to_string(),
            revoked_at: 1_800_000_000,
        });
        cursor
    }

    pub fn keep_alive(&self) {
        let _ = self.inner.events.send(Event::KeepAlive);
    }

    /// Ends every open stream: the gateway must reconnect and catch up.
    pub fn hang_up(&self) {
        let _ = self.inner.events.send(Event::Hangup);
    }

    pub fn polls(&self) -> Vec<i64> {
        self.inner.polls.lock().unwrap().clone()
    }

    pub fn streams(&self) -> Vec<i64> {
        self.inner.streams.lock().unwrap().clone()
    }

    /// Answers 503 to the next `n` receipts.
    pub fn fail_receipts(&self, n: usize) {
        self.inner.fail_receipts.store(n, Ordering::SeqCst);
    }

    /// Answers 413 to tokens carrying more than `n` receipts, as a service whose body
    /// limit is lower than a full batch needs.
    pub fn limit_receipts_per_token(&self, n: usize) {
        self.inner.max_per_token.store(n, Ordering::SeqCst);
    }

    pub fn receipt_tokens(&self) -> Vec<String> {
        self.inner.receipts.lock().unwrap().clone()
    }

    /// The receipts delivered so far, each with the claims of its token, their
    /// signatures checked against `gateway`.
    pub fn receipts(&self, gateway: &Did) -> Vec<Delivered> {
        let key = DecodingKey::from_ed_der(gateway.public_key_bytes());
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.validate_exp = false;
        validation.set_audience(&[self.inner.did.to_string()]);
        validation.set_required_spec_claims(&["exp", "aud", "iss"]);
        self.receipt_tokens()
            .iter()
            .flat_map(|t| {
                let token = jsonwebtoken::decode::<ReceiptToken>(t, &key, &validation)
                    .expect("a receipt token signed by the gateway, for the service")
                    .claims;
                let receipts: Vec<Delivered> = token
                    .receipts
                    .iter()
                    .map(|r| Delivered {
                        iss: token.iss.clone(),
                        aud: token.aud.clone(),
                        iat: token.iat,
                        exp: token.exp,
                        invocation: r.invocation.clone(),
                        route: r.route.clone(),
                        outcome: r.outcome.clone(),
                        status: r.status,
                        at: r.at,
                        error: r.error.clone(),
                    })
                    .collect();
                receipts
            })
            .collect()
    }

    /// Waits until at least `n` receipts have arrived (in any number of tokens).
    pub async fn wait_receipts(&self, n: usize) {
        let wait = async {
            loop {
                let notified = self.inner.receipts_changed.notified();
                if self.inner.receipt_count.load(Ordering::SeqCst) >= n {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(10), wait)
            .await
            .expect("receipts to arrive");
    }
}

async fn service_info(State(s): State<Arc<Inner>>) -> Json<serde_json::Value> {
    Json(json!({"did": s.did.to_string()}))
}

async fn page(State(s): State<Arc<Inner>>, Query(q): Query<After>) -> Json<serde_json::Value> {
    s.polls.lock().unwrap().push(q.after);
    let limit = q.limit.unwrap_or(100);
    let items: Vec<Revocation> = s
        .revocations
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.cursor > q.after)
        .take(limit)
        .cloned()
        .collect();
    let next = items.last().map_or(q.after, |r| r.cursor);
    Json(json!({"revocations": items, "next": next}))
}

fn frame(item: &Revocation) -> Result<Bytes, Infallible> {
    let data = serde_json::to_string(item).unwrap();
    Ok(Bytes::from(format!("event: revocation\ndata: {data}\n\n")))
}

async fn events(State(s): State<Arc<Inner>>, Query(q): Query<After>) -> Response {
    let rx = s.events.subscribe();
    s.streams.lock().unwrap().push(q.after);
    let backlog: Vec<Result<Bytes, Infallible>> = s
        .revocations
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.cursor > q.after)
        .map(frame)
        .collect();
    let live = futures_util::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(Event::Revocation(r)) => return Some((frame(&r), rx)),
                Ok(Event::KeepAlive) => return Some((Ok(Bytes::from(": keep-alive\n\n")), rx)),
                Ok(Event::Hangup) | Err(broadcast::error::RecvError::Closed) => return None,
                Err(broadcast::error::RecvError::Lagged(_)) => {}
            }
        }
    });
    let stream = futures_util::stream::iter(backlog).chain(live);
    (
        [(axum::http::header::CONTENT_TYPE, "text/event-stream")],
        Body::from_stream(stream),
    )
        .into_response()
}

#[derive(Deserialize)]
struct ReceiptBody {
    receipt: String,
}

async fn receipt(State(s): State<Arc<Inner>>, Json(body): Json<ReceiptBody>) -> StatusCode {
    let failing = s
        .fail_receipts
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let payload = body.receipt.split('.').nth(1).unwrap();
    let claims: ReceiptToken = serde_json::from_slice(
        &data_encoding::BASE64URL_NOPAD
            .decode(payload.as_bytes())
            .unwrap(),
    )
    .unwrap();
    let max = s.max_per_token.load(Ordering::SeqCst);
    if max > 0 && claims.receipts.len() > max {
        return StatusCode::PAYLOAD_TOO_LARGE;
    }
    s.receipts.lock().unwrap().push(body.receipt);
    s.receipt_count
        .fetch_add(claims.receipts.len(), Ordering::SeqCst);
    s.receipts_changed.notify_waiters();
    StatusCode::CREATED
}
