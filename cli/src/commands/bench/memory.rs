//! What waiting agents cost the service: `agents` agents each ask once; the service is
//! restarted, so that the measure starts from a fresh process rather than one whose
//! allocator holds memory freed by earlier phases; then every agent long-polls at once
//! (one connection and one request each), and the growth of the service's resident
//! memory is divided by the number of long-polls the service reports holding.

use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::task::JoinSet;

use super::launch::{self, Launch};
use super::scene::{self, Scene};
use super::ticker::{Counts, Ticker};
use super::waiting::{HOLD, create_requests, until_waiting};

/// Long-polls opened at a time, each batch held before the next is opened.
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
        let _ticker = Ticker::start(
            "memory: registering",
            "agents",
            Some(agents as u64),
            setup.clone(),
        );
        let registered = scene.register(label, agents, &setup).await?;
        drop(_ticker);
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
    eprintln!("bench: memory: restarting the service");
    launch.restart_services()?;
    let scene = scene
        .reconnect(&launch.service_urls())
        .await
        .context("reconnecting after the restart")?;
    // Measured at rest, once it has answered a first call.
    tokio::time::sleep(SETTLE).await;
    let pids = launch.service_pids();
    let idle: u64 = pids
        .iter()
        .map(|p| launch::memory(*p).map(|m| m.rss))
        .sum::<anyhow::Result<u64>>()?;
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
    for pid in &pids {
        let m = launch::memory(*pid)?;
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
        waiting: held as usize,
        idle,
        loaded,
        per_waiting: loaded.saturating_sub(idle) as f64 / held.max(1) as f64,
        peak,
        errors: counts.errors() + setup.errors(),
        messages: counts.messages(),
    })
}
