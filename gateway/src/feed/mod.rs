//! Following the service's revocation feed: catch up by cursor, then follow the live
//! stream; after any failure, reconnect with backoff and catch up again.
//!
//! Contract (no authentication):
//! - `GET {service}/v1/revocations?after=<cursor>&limit=<n>` →
//!   `{"revocations": [{"cursor": 17, "cid": "bafy…", "revoked_at": 1800000000}], "next": 17}`
//! - `GET {service}/v1/revocations/events?after=<cursor>`: server-sent events named
//!   `revocation` carrying the same item as JSON, and keep-alive comments.
//!
//! The view counts as synced when a catch-up completes, when the stream connects, and on
//! every event or keep-alive it receives. Each revocation is applied to the in-memory view
//! first (so it takes effect at once), then stored with the cursor.

mod sse;
pub mod view;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use countersign_core::Cid;
use countersign_server::clock::Clock;
use serde::Deserialize;

pub use sse::{SseError, SseItem, SseParser};
pub use view::RevocationView;

use crate::store::{Revocation, Store};

/// Timing of the feed client.
#[derive(Clone, Debug)]
pub struct FeedSettings {
    /// First wait before reconnecting; doubles up to `max_backoff`.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// A stream silent this long is taken as dead and reconnected.
    pub idle_timeout: Duration,
    /// Revocations asked for per catch-up page.
    pub page: usize,
    /// Time allowed for one catch-up request.
    pub request_timeout: Duration,
}

impl FeedSettings {
    /// Settings for a gateway that refuses everything after `max_staleness` seconds.
    pub fn for_staleness(max_staleness: u64) -> FeedSettings {
        FeedSettings {
            min_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(5),
            idle_timeout: Duration::from_secs((max_staleness / 2).max(2)),
            page: 500,
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// Largest catch-up page read, in bytes.
const MAX_PAGE_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, Deserialize)]
struct Page {
    revocations: Vec<Revocation>,
}

/// The feed client.
#[derive(Debug, Clone)]
pub struct Feed {
    pub http: reqwest::Client,
    /// The service's base URL, without a trailing `/`.
    pub base: String,
    pub view: Arc<RevocationView>,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub settings: FeedSettings,
}

impl Feed {
    /// Follows the feed until the task is dropped.
    pub async fn run(self) {
        let mut backoff = self.settings.min_backoff;
        loop {
            let mut connected = false;
            match self.session(&mut connected).await {
                Ok(()) => tracing::debug!("the revocation stream ended; reconnecting"),
                Err(e) => tracing::warn!(
                    error = format!("{e:#}"),
                    retry_in_ms = backoff.as_millis() as u64,
                    "revocation feed unavailable"
                ),
            }
            if connected {
                backoff = self.settings.min_backoff;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(self.settings.max_backoff);
        }
    }

    /// One connection: catch up, then follow the stream until it ends or fails.
    async fn session(&self, connected: &mut bool) -> anyhow::Result<()> {
        self.catch_up().await?;
        *connected = true;
        let result = self.follow().await;
        self.view.set_live(false);
        result
    }

    /// Reads pages from the cursor until a short page says there is no more.
    async fn catch_up(&self) -> anyhow::Result<()> {
        loop {
            let url = format!(
                "{}/v1/revocations?after={}&limit={}",
                self.base,
                self.view.cursor(),
                self.settings.page
            );
            let response = self
                .http
                .get(&url)
                .timeout(self.settings.request_timeout)
                .send()
                .await
                .context("GET /v1/revocations")?;
            let status = response.status();
            if !status.is_success() {
                bail!("GET /v1/revocations answered {status}");
            }
            let body = read_capped(response, MAX_PAGE_BYTES).await?;
            let page: Page = serde_json::from_slice(&body).context("the revocations page")?;
            let count = page.revocations.len();
            self.apply(page.revocations).await?;
            if count < self.settings.page {
                self.view.synced(self.clock.now());
                return Ok(());
            }
        }
    }

    /// Follows the live stream from the cursor.
    async fn follow(&self) -> anyhow::Result<()> {
        let url = format!(
            "{}/v1/revocations/events?after={}",
            self.base,
            self.view.cursor()
        );
        let mut response = self
            .http
            .get(&url)
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .send()
            .await
            .context("GET /v1/revocations/events")?;
        let status = response.status();
        if !status.is_success() {
            bail!("GET /v1/revocations/events answered {status}");
        }
        self.view.synced(self.clock.now());
        self.view.set_live(true);
        let mut parser = SseParser::new();
        loop {
            let chunk = tokio::time::timeout(self.settings.idle_timeout, response.chunk())
                .await
                .map_err(|_| anyhow!("the revocation stream was silent too long"))?
                .context("reading the revocation stream")?;
            let Some(chunk) = chunk else {
                return Ok(());
            };
            for item in parser.push(&chunk)? {
                match item {
                    SseItem::Comment => {}
                    SseItem::Event { name, data } if name == "revocation" => {
                        let item: Revocation =
                            serde_json::from_str(&data).context("a revocation event")?;
                        self.apply(vec![item]).await?;
                    }
                    SseItem::Event { .. } => {}
                }
                self.view.synced(self.clock.now());
            }
        }
    }

    /// Applies revocations past the cursor: in memory at once, then durably.
    async fn apply(&self, items: Vec<Revocation>) -> anyhow::Result<()> {
        let mut last = self.view.cursor();
        let mut fresh = Vec::with_capacity(items.len());
        let mut cids = Vec::with_capacity(items.len());
        for item in items {
            if item.cursor <= last {
                continue;
            }
            let cid: Cid = item
                .cid
                .parse()
                .map_err(|e| anyhow!("revocation {} names {:?}: {e}", item.cursor, item.cid))?;
            last = item.cursor;
            cids.push(cid);
            fresh.push(item);
        }
        if fresh.is_empty() {
            return Ok(());
        }
        self.view.add(cids);
        tracing::info!(count = fresh.len(), cursor = last, "revocations applied");
        self.store.revoke(fresh, last).await?;
        self.view.set_cursor(last);
        Ok(())
    }
}

/// Reads a response body up to `cap` bytes; more is an error.
async fn read_capped(mut response: reqwest::Response, cap: usize) -> anyhow::Result<Vec<u8>> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > cap {
            bail!("the response is larger than {cap} bytes");
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
