//! The Countersign gateway: the executor that holds the real credentials and performs a
//! side effect only for an invocation whose whole chain checks out — signatures, subject,
//! command, policies, time, revocation, replay and quorum — then posts a signed receipt.

pub mod adapters;
pub mod api;
pub mod check;
pub mod config;
pub mod error;
pub mod feed;
pub mod invoke;
pub mod metrics;
pub mod receipts;
pub mod routes;
pub mod secret;
pub mod state;
pub mod store;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use countersign_core::validate::Limits;
use countersign_core::{Cid, Validator};
use countersign_server::clock::Clock;
use countersign_server::listen::{self, ConnectionLimits};
use countersign_server::setup;
use tokio::task::JoinHandle;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

use crate::config::Config;
use crate::error::{ApiError, Kind};
use crate::feed::{Feed, FeedSettings, RevocationView};
use crate::receipts::{Courier, DeliverySettings};
use crate::routes::Routes;
use crate::state::{AppState, Inner};
use crate::store::Store;

/// Timings of the background work; the defaults suit production, tests shorten them.
#[derive(Clone, Debug)]
pub struct Tuning {
    pub feed: FeedSettings,
    pub delivery: DeliverySettings,
    /// How often expired replay rows and delivered receipts are forgotten.
    pub prune_every: Duration,
}

impl Tuning {
    pub fn for_config(config: &Config) -> Tuning {
        Tuning {
            feed: FeedSettings::for_staleness(config.checks.max_staleness.0),
            delivery: DeliverySettings::default(),
            prune_every: Duration::from_secs(60),
        }
    }
}

/// Replay rows are kept this long past their invocation's expiry, against clock steps.
const PRUNE_MARGIN: i64 = 300;

/// A running gateway: its state and its background tasks (revocation feed, receipt
/// delivery, pruning), which stop when it is dropped.
#[derive(Debug)]
pub struct Gateway {
    state: AppState,
    tasks: Vec<JoinHandle<()>>,
}

impl Gateway {
    /// Opens the store, reads or creates the key, resolves every credential and starts
    /// following the revocation feed. Until the feed is reached, everything is refused.
    pub async fn start(
        config: Config,
        clock: Arc<dyn Clock>,
        tuning: Tuning,
    ) -> anyhow::Result<Gateway> {
        // reqwest and lettre are built without a TLS crypto provider: use ring. Another
        // already installed is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
        setup::private_dir(&config.data_dir)?;
        let (key, created) = setup::load_or_create_key(&config.key)?;
        if created {
            tracing::info!(path = %config.key.display(), did = %key.did(), "created the gateway key");
        }
        let store = Store::open(&config.data_dir, clock.now())
            .await
            .context("cannot open the gateway's store")?;
        let (cursor, cids) = store.revocations().await?;
        let revoked = cids.iter().filter_map(|c| c.parse::<Cid>().ok());
        let view = Arc::new(RevocationView::new(cursor, revoked));
        let routes = Routes::build(&config.routes)?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .context("cannot build the HTTP client")?;
        let base = config.service.url.trim_end_matches('/').to_owned();
        let feed = Feed {
            http: http.clone(),
            base: base.clone(),
            view: view.clone(),
            store: store.clone(),
            clock: clock.clone(),
            settings: tuning.feed.clone(),
        };
        let courier = Courier {
            http,
            base,
            service: config.service.did,
            key: key.clone(),
            store: store.clone(),
            clock: clock.clone(),
            settings: tuning.delivery.clone(),
        };
        let tasks = vec![
            tokio::spawn(feed.run()),
            tokio::spawn(courier.run()),
            tokio::spawn(prune(store.clone(), clock.clone(), tuning.prune_every)),
        ];
        let owners = config.owners.iter().copied().collect();
        let validator = Validator::new(Limits::default(), config.checks.proof_cache);
        let state = AppState::new(Inner {
            config,
            key,
            owners,
            routes,
            validator,
            view,
            store,
            clock,
            metrics: Default::default(),
        });
        Ok(Gateway { state, tasks })
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The HTTP application.
    pub fn router(&self) -> Router {
        app(self.state.clone())
    }

    /// Serves until `shutdown` completes; the background tasks run as long as it does.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        serve(self.state.clone(), listener, shutdown).await
    }
}

/// Serves the gateway's application until `shutdown` completes: a client gets at most
/// `limits.header_timeout` to send its request head, at most `limits.max_connections`
/// are served at once, and in-flight calls get `limits.request_timeout` to finish at
/// shutdown.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = &state.config.limits;
    let connections = ConnectionLimits {
        header_timeout: Duration::from_secs(limits.header_timeout.0),
        max_connections: limits.max_connections,
        drain: Duration::from_secs(limits.request_timeout.0),
    };
    let open = state.metrics.connections.clone();
    listen::serve(listener, app(state), connections, open, shutdown, || {}).await
}

impl Drop for Gateway {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    let limits = &state.config.limits;
    api::routes()
        .fallback(|| async { ApiError::new(Kind::NotFound, "no such endpoint") })
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(limits.request_timeout.0),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("x-content-type-options"),
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("cache-control"),
            HeaderValue::from_static("no-store"),
        ))
        .with_state(state)
}

/// Forgets accepted invocations and delivered receipts well past their expiry.
async fn prune(store: Store, clock: Arc<dyn Clock>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        if let Err(e) = store.prune(clock.now() - PRUNE_MARGIN).await {
            tracing::warn!(error = %e, "pruning the store failed");
        }
    }
}
