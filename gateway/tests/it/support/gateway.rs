//! A gateway under test: configured from TOML text, served on loopback, with a hand-set
//! clock and short retry timings.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use countersign_gateway::config::{self, Config};
use countersign_gateway::feed::FeedSettings;
use countersign_gateway::receipts::DeliverySettings;
use countersign_gateway::{Gateway, Tuning};
use countersign_server::clock::ManualClock;
use serde_json::Value as Json;
use tokio::sync::oneshot;

use super::chain::{NOW, keys};
use super::service::FakeService;
use super::{TempDir, eventually, logs};

/// The payment API key the gateway holds, which nothing else may ever show.
pub const STRIPE_KEY: &str = "sk_test_51HxGatewayOnlySecret";

/// A gateway's directory and configuration; start it (again) with [`TestGateway::start`].
#[derive(Debug)]
pub struct Setup {
    pub dir: TempDir,
    pub config: String,
    pub now: u64,
}

impl Setup {
    /// A gateway trusting the owner, fed by `service`, with `routes` (TOML; `{dir}` is
    /// replaced by the gateway's directory).
    pub fn new(service: &FakeService, routes: &str) -> Setup {
        let dir = TempDir::new("gw");
        let keys = keys();
        std::fs::write(
            dir.path().join("gateway.pem"),
            keys.gateway.to_pkcs8_pem().unwrap().as_bytes(),
        )
        .unwrap();
        std::fs::write(dir.path().join("stripe-key"), format!("{STRIPE_KEY}\n")).unwrap();
        let config = format!(
            r#"
            data_dir = "data"
            key = "gateway.pem"
            owners = ["{owner}"]
            [service]
            url = "{url}"
            {routes}
            "#,
            owner = keys.owner.did(),
            url = service.url,
            routes = routes.replace("{dir}", &dir.path().display().to_string()),
        );
        Setup {
            dir,
            config,
            now: NOW,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// A served gateway (as `countersign gateway` serves it); it stops when dropped.
#[derive(Debug)]
pub struct TestGateway {
    pub url: String,
    pub addr: std::net::SocketAddr,
    pub clock: Arc<ManualClock>,
    pub gateway: Gateway,
    http: reqwest::Client,
    _stop: oneshot::Sender<()>,
}

pub fn tuning(config: &Config) -> Tuning {
    Tuning {
        feed: FeedSettings {
            min_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(100),
            ..FeedSettings::for_staleness(config.checks.max_staleness.0)
        },
        delivery: DeliverySettings {
            min_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(100),
            request_timeout: Duration::from_secs(5),
        },
        prune_every: Duration::from_secs(3600),
    }
}

impl TestGateway {
    /// Starts the gateway and waits until it has reached the revocation feed.
    pub async fn start(setup: &Setup) -> TestGateway {
        logs::init();
        let config = Config::parse(&setup.config, setup.path()).expect("a valid configuration");
        let problems = config::problems(&config, true);
        assert!(problems.is_empty(), "{problems:#?}");
        let clock = Arc::new(ManualClock::new(setup.now as i64));
        let tuning = tuning(&config);
        let gateway = Gateway::start(config, clock.clone(), tuning).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let url = format!("http://{addr}");
        let state = gateway.state().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            countersign_gateway::serve(state, listener, shutdown)
                .await
                .unwrap();
        });
        let view = gateway.state().view.clone();
        eventually("the live revocation stream", || view.is_live()).await;
        TestGateway {
            url,
            addr,
            clock,
            gateway,
            http: reqwest::Client::new(),
            _stop: stop,
        }
    }

    /// Posts a container as `text/plain`; returns the status and the JSON answer.
    pub async fn invoke(&self, container: &str) -> (u16, Json) {
        self.post("/v1/invoke", "text/plain", container.to_owned())
            .await
    }

    pub async fn post(&self, path: &str, content_type: &str, body: String) -> (u16, Json) {
        let response = self
            .http
            .post(format!("{}{path}", self.url))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// The body of a GET as text (for `/metrics`).
    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let response = self
            .http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    pub async fn get(&self, path: &str) -> (u16, Json) {
        let response = self
            .http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// Waits until the gateway has applied the feed up to `cursor`.
    pub async fn wait_cursor(&self, cursor: i64) {
        let mut watch = self.gateway.state().view.watch_cursor();
        tokio::time::timeout(Duration::from_secs(10), watch.wait_for(|c| *c >= cursor))
            .await
            .expect("the revocation to be applied")
            .unwrap();
    }
}

/// Asserts a refusal: its HTTP status and error kind.
#[track_caller]
pub fn assert_refused(answer: &(u16, Json), status: u16, kind: &str) {
    assert_eq!(
        (answer.0, answer.1["error"]["kind"].as_str()),
        (status, Some(kind)),
        "{}",
        answer.1
    );
}
