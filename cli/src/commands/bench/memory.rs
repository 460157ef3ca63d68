//! What waiting agents cost the service: `agents` agents each ask once; then every agent
//! long-polls at once (one connection and one request each), and the growth of the
//! service's resident memory is divided by the number of long-polls the service reports
//! holding. The service is restarted first, so that the measure starts from a fresh
//! process rather than one whose allocator holds memory freed by earlier phases.
//!
//! Beforehand, from another fresh process, the floor under that figure: as many bare
//! connections that have sent the first line of a request and a header (the HTTP layer
//! holds them, and its buffers, before the service sees a request).

use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use super::launch::{self, Launch};
use super::scene::{self, Scene};
use super::ticker::{Counts, Ticker};
use super::waiting::{HOLD, create_requests, until_waiting};

/// Connections opened at a time; each batch of long-polls is held before the next opens.
const BATCH: usize = 500;
/// How long the service may take to hold one batch.
const BATCH_PATIENCE: Duration = Duration::from_secs(60);
/// Quiet time before memory is read.
const SETTLE: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub struct MemoryResult {
    pub waiting: usize,
    /// The service's resident memory (summed over replicas) before and with the waits.
    pub idle: u64,
    pub loaded: u64,
    /// Bytes per waiting agent.
    pub per_waiting: f64,
    /// Bytes per bare connection that sent a partial request head.
    pub per_connection: f64,
    /// The highest resident memory of any replica during this phase.
    pub peak: u64,
    pub errors: u64,
    pub messages: Vec<String>,
}

pub async fn run(
    launch: &mut Launch,
    scene: Scene,
    label: &str,
    agents: usize,
) -> anyhow::Result<MemoryResult> {
    let setup = Counts::new();
    let (agent_keys, ids) = {
        let registered = {
            let _ticker = Ticker::start(
                "memory: registering",
                "agents",
                Some(agents as u64),
                setup.clone(),
            );
            scene.register(label, agents, &setup).await?
        };
        let asked = Counts::new();
        let _ticker = Ticker::start(
            "memory: asking",
            "requests",
            Some(agents as u64),
            asked.clone(),
        );
        let ids = create_requests(&registered, &asked).await?;
        let keys: Vec<_> = registered.into_iter().map(|a| a.key).collect();
        (keys, ids)
    };

    let (scene, rest) =
        restart_at_rest(launch, scene, &format!("{agents} bare connections")).await?;
    let mut bare = Vec::with_capacity(agents);
    for (i, id) in ids.iter().enumerate() {
        let url = &scene.urls[i % scene.urls.len()];
        let addr = url.trim_start_matches("http://");
        let mut stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("cannot connect to {addr}"))?;
        let head = format!("GET /v1/requests/{id}/wait?timeout=600 HTTP/1.1\r\nHost: {addr}\r\n");
        stream
            .write_all(head.as_bytes())
            .await
            .context("cannot send a request head")?;
        bare.push(stream);
        if i % BATCH == BATCH - 1 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    tokio::time::sleep(SETTLE).await;
    let with_bare = resident(launch)?;
    drop(bare);
    let per_connection = with_bare.saturating_sub(rest) as f64 / agents as f64;

    let (scene, idle) = restart_at_rest(launch, scene, &format!("{agents} agents waiting")).await?;
    let counts = Counts::new();
    let _ticker = Ticker::start(
        "memory: waiting",
        "long-polls held",
        Some(agents as u64),
        counts.clone(),
    );
    let mut polls = JoinSet::new();
    let end = Instant::now() + HOLD;
    let replicas = scene.replicas();
    for (start, chunk) in (0..agent_keys.len())
        .step_by(BATCH)
        .zip(agent_keys.chunks(BATCH))
    {
        for (offset, key) in chunk.iter().enumerate() {
            let i = start + offset;
            let client = scene.owner[i % replicas].with_key(key.clone());
            let id = ids[i].clone();
            polls.spawn(async move { scene::wait_for_chain(&client, &id, HOLD, end).await });
        }
        let opened = (start + chunk.len()) as u64;
        until_waiting(&scene, opened, BATCH_PATIENCE).await?;
        counts.done(chunk.len() as u64);
    }
    tokio::time::sleep(SETTLE).await;
    let held = scene.waiting().await?;
    let mut loaded = 0;
    let mut peak = 0;
    for pid in launch.service_pids() {
        let m = launch::memory(pid)?;
        loaded += m.rss;
        peak = peak.max(m.peak);
    }
    // A long-poll that ended early (it should not) is an error.
    while let Some(ended) = polls.try_join_next() {
        match ended {
            Ok(Ok(_)) => counts.error(&anyhow::anyhow!("a request was decided while it waited")),
            Ok(Err(e)) => counts.error(&e),
            Err(e) => counts.error(&anyhow::Error::new(e)),
        }
    }
    polls.abort_all();
    Ok(MemoryResult {
        waiting: usize::try_from(held).unwrap_or(usize::MAX),
        idle,
        loaded,
        per_waiting: loaded.saturating_sub(idle) as f64 / held.max(1) as f64,
        per_connection,
        peak,
        errors: counts.errors() + setup.errors(),
        messages: counts.messages(),
    })
}

/// Restarts the service (a fresh process, whose allocator holds nothing from earlier
/// phases) for what comes `next`; answers the scene reconnected and the service's
/// resident memory at rest, once it has answered a first call.
async fn restart_at_rest(
    launch: &mut Launch,
    scene: Scene,
    next: &str,
) -> anyhow::Result<(Scene, u64)> {
    eprintln!("bench: memory: restarting the service; {next}");
    launch.restart_services()?;
    let scene = scene
        .reconnect(&launch.service_urls())
        .await
        .context("reconnecting after the restart")?;
    tokio::time::sleep(SETTLE).await;
    Ok((scene, resident(launch)?))
}

/// The service's resident memory, summed over its replicas.
fn resident(launch: &Launch) -> anyhow::Result<u64> {
    launch
        .service_pids()
        .iter()
        .map(|p| launch::memory(*p).map(|m| m.rss))
        .sum()
}
