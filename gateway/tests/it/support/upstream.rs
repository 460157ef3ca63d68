//! A recording upstream on loopback: it keeps every request and answers as told.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tokio::sync::oneshot;

/// One request the upstream received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

#[derive(Debug)]
struct Inner {
    requests: Mutex<Vec<Recorded>>,
    /// Status, content type and body of every answer.
    answer: Mutex<(u16, &'static str, String)>,
}

/// The upstream; it stops when dropped.
#[derive(Debug)]
pub struct Upstream {
    pub url: String,
    inner: Arc<Inner>,
    _stop: oneshot::Sender<()>,
}

impl Upstream {
    pub async fn start() -> Upstream {
        let inner = Arc::new(Inner {
            requests: Mutex::default(),
            answer: Mutex::new((
                200,
                "application/json",
                r#"{"id": "re_1", "status": "succeeded"}"#.to_owned(),
            )),
        });
        let app = Router::new().fallback(record).with_state(inner.clone());
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
        Upstream {
            url,
            inner,
            _stop: stop,
        }
    }

    /// Answers every later request with this status, content type and body.
    pub fn answer(&self, status: u16, content_type: &'static str, body: &str) {
        *self.inner.answer.lock().unwrap() = (status, content_type, body.to_owned());
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.requests.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.inner.requests.lock().unwrap().len()
    }
}

async fn record(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    inner.requests.lock().unwrap().push(Recorded {
        method,
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        headers,
        body,
    });
    let (status, content_type, body) = inner.answer.lock().unwrap().clone();
    (
        StatusCode::from_u16(status).unwrap(),
        [(axum::http::header::CONTENT_TYPE, content_type)],
        body,
    )
        .into_response()
}
