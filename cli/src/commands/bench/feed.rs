//! Revocation fan-out: `subscribers` clients follow the public revocation feed
//! (`GET /v1/revocations/events`, spread over the replicas); the owner revokes capabilities
//! issued during the cycles, one at a time, and each revocation is timed from the moment
//! it is sent until every subscriber has received it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use countersign_core::Cid;
use countersign_core::revocation::Revocation;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::scene::Scene;
use super::stats::{Samples, Summary};
use super::ticker::{Counts, Ticker};
use crate::system;

/// How long the subscribers may take to connect.
const CONNECT: Duration = Duration::from_secs(60);
/// How long one revocation may take to reach every subscriber.
const DELIVERY: Duration = Duration::from_secs(10);
/// Pause between revocations.
const BETWEEN: Duration = Duration::from_millis(50);
/// The longest a subscriber stays connected.
const STREAM_LIMIT: Duration = Duration::from_secs(900);

#[derive(Debug)]
pub struct FeedResult {
    pub subscribers: usize,
    pub revocations: usize,
    /// Revocation sent → a subscriber has it, over every (revocation, subscriber) pair.
    pub latency: Option<Summary>,
    /// Deliveries that did not arrive in time.
    pub missed: u64,
    pub errors: u64,
    pub messages: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Page {
    revocations: Vec<Item>,
    next: i64,
}

#[derive(Debug, Deserialize)]
struct Item {
    cid: String,
}

pub async fn run(
    scene: Arc<Scene>,
    subscribers: usize,
    issued: Vec<Cid>,
    revocations: usize,
) -> anyhow::Result<FeedResult> {
    let counts = Counts::new();
    let after = feed_end(&scene).await?;
    let connected = Arc::new(AtomicUsize::new(0));
    let (tx, mut rx) = mpsc::unbounded_channel::<(String, Instant)>();
    let mut streams = JoinSet::new();
    for i in 0..subscribers {
        let url = format!(
            "{}/v1/revocations/events?after={after}",
            scene.urls[i % scene.urls.len()]
        );
        let http = scene.http.clone();
        let tx = tx.clone();
        let connected = connected.clone();
        streams.spawn(async move { follow(&http, &url, &connected, &tx).await });
    }
    drop(tx);
    let deadline = Instant::now() + CONNECT;
    while connected.load(Ordering::Relaxed) < subscribers {
        if let Some(ended) = streams.try_join_next() {
            let err = match ended {
                Ok(Err(e)) => e,
                _ => anyhow!("a subscriber's stream ended"),
            };
            return Err(err.context("connecting the feed subscribers"));
        }
        if Instant::now() >= deadline {
            bail!(
                "only {} of {subscribers} feed subscribers connected",
                connected.load(Ordering::Relaxed)
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Each stream reads the feed once when it starts; let them all get there.
    tokio::time::sleep(Duration::from_millis(500)).await;
    eprintln!(
        "bench: feed: {subscribers} subscribers connected; revoking {revocations} capabilities"
    );
    let _ticker = Ticker::start(
        "feed: revoking",
        "revocations",
        Some(revocations as u64),
        counts.clone(),
    );
    let mut targets = issued.into_iter();
    let mut latency = Samples::default();
    let mut missed = 0;
    for _ in 0..revocations {
        // Capabilities issued in the cycles; the owner may revoke any CID, so if there
        // were fewer, made-up ones serve as well.
        let cid = match targets.next() {
            Some(cid) => cid,
            None => Cid::dag_cbor(&system::random::<32>()?),
        };
        let record = Revocation::sign(scene.owner[0].key(), cid.clone()).to_json();
        let body = json!({ "record": record, "reason": "bench" });
        let wanted = cid.to_string();
        let sent = Instant::now();
        if let Err(e) = scene.owner[0].post("/v1/revocations", &body).await {
            counts.error(&e.context("revoking"));
            continue;
        }
        let until = sent + DELIVERY;
        let mut got = 0;
        while got < subscribers {
            match tokio::time::timeout_at(until.into(), rx.recv()).await {
                Ok(Some((seen, at))) if seen == wanted => {
                    latency.push(at.saturating_duration_since(sent));
                    got += 1;
                }
                // An earlier revocation that arrived late: counted missed already.
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        if got < subscribers {
            let late = (subscribers - got) as u64;
            missed += late;
            counts.error(&anyhow!(
                "{late} of {subscribers} subscribers did not receive a revocation within {DELIVERY:?}"
            ));
        }
        counts.done(1);
        tokio::time::sleep(BETWEEN).await;
    }
    streams.abort_all();
    Ok(FeedResult {
        subscribers,
        revocations,
        latency: latency.summary(),
        missed,
        errors: counts.errors(),
        messages: counts.messages(),
    })
}

/// The feed's current end: the cursor after which new revocations will come.
async fn feed_end(scene: &Scene) -> anyhow::Result<i64> {
    let mut after = 0;
    // Bounded: the feed holds at most what this run and earlier ones revoked.
    for _ in 0..100_000 {
        let url = format!("{}/v1/revocations?after={after}", scene.urls[0]);
        let page: Page = scene
            .http
            .get(&url)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .context("reading the revocation feed")?
            .json()
            .await
            .context("reading the revocation feed")?;
        if page.revocations.is_empty() {
            return Ok(after);
        }
        after = page.next;
    }
    bail!("the revocation feed does not end")
}

/// Follows one event stream, sending each revocation's CID with the moment it arrived.
async fn follow(
    http: &reqwest::Client,
    url: &str,
    connected: &AtomicUsize,
    tx: &mpsc::UnboundedSender<(String, Instant)>,
) -> anyhow::Result<()> {
    let mut response = http
        .get(url)
        .timeout(STREAM_LIMIT)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .with_context(|| format!("cannot follow {url}"))?;
    connected.fetch_add(1, Ordering::Relaxed);
    let mut buffer: Vec<u8> = Vec::new();
    while let Some(chunk) = response.chunk().await.context("the feed stream failed")? {
        let at = Instant::now();
        buffer.extend_from_slice(&chunk);
        // Events end with a blank line.
        while let Some(end) = find(&buffer, b"\n\n") {
            let event: Vec<u8> = buffer.drain(..end + 2).collect();
            if let Some(cid) = revoked_cid(&event) {
                let _ = tx.send((cid, at));
            }
        }
        if buffer.len() > 1 << 20 {
            bail!("the feed sent an event larger than 1 MiB");
        }
    }
    bail!("the feed stream ended")
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The CID in a `revocation` event's data.
fn revoked_cid(event: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(event).ok()?;
    let mut is_revocation = false;
    let mut data = None;
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("event:") {
            is_revocation = name.trim() == "revocation";
        } else if let Some(d) = line.strip_prefix("data:") {
            data = Some(d.trim());
        }
    }
    if !is_revocation {
        return None;
    }
    let item: Item = serde_json::from_str(data?).ok()?;
    Some(item.cid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_revocation_events_only() {
        let event = b"event: revocation\nid: 7\ndata: {\"cursor\":7,\"cid\":\"bafyx\",\"revoked_at\":1}\n\n";
        assert_eq!(revoked_cid(event).as_deref(), Some("bafyx"));
        assert_eq!(revoked_cid(b": keep-alive\n\n"), None);
        assert_eq!(
            revoked_cid(b"event: other\ndata: {\"cid\":\"x\"}\n\n"),
            None
        );
        assert_eq!(find(b"ab\n\ncd", b"\n\n"), Some(2));
    }
}
