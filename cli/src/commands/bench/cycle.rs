//! The full-cycle load: each agent, over and over until the time is up, asks for a
//! capability; the device reads the request, signs its approval and the service issues
//! the chain; the agent, long-polling meanwhile, receives it; the agent invokes at the
//! gateway with it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use countersign_core::Cid;

use super::scene::{self, Agent, Scene};
use super::stats::{Samples, Summary};
use super::ticker::{Counts, Ticker};

/// One long-poll's hold.
const POLL: Duration = Duration::from_secs(30);
/// Pause after a failed cycle, so that a failing service is not hammered.
const AFTER_ERROR: Duration = Duration::from_millis(50);
/// How long cycles under way at the end may take to finish.
const DRAIN: Duration = Duration::from_secs(60);
/// Issued capabilities remembered for the revocation phase.
const KEEP_ISSUED: usize = 256;

/// The steps of a cycle, in order.
pub const STEPS: [&str; 5] = ["request", "approve", "fetch", "invoke", "cycle"];

#[derive(Debug)]
pub struct CycleResult {
    pub agents: usize,
    /// The measured window (after the warm-up).
    pub window: Duration,
    /// Cycles completed in the window.
    pub cycles: u64,
    pub per_sec: f64,
    /// Percentiles of each of [`STEPS`].
    pub steps: Vec<(&'static str, Option<Summary>)>,
    pub errors: u64,
    pub messages: Vec<String>,
    /// CPU time each process used in the window.
    pub cpu: Vec<(String, Duration)>,
    /// The machine's CPUs in the window: the share busy, and waiting for I/O.
    pub machine_busy: f64,
    pub machine_iowait: f64,
    /// Capabilities issued, for the revocation phase.
    pub issued: Vec<Cid>,
}

/// One cycle's step times.
struct Timings([Duration; 5]);

/// Runs `agents` for `warmup` then `window`: throughput and step percentiles over the
/// cycles that completed within the window. `pids` are the processes whose CPU time is
/// reported, with their names.
pub async fn run(
    scene: Arc<Scene>,
    agents: Vec<Agent>,
    warmup: Duration,
    window: Duration,
    pids: Vec<(String, u32)>,
) -> anyhow::Result<CycleResult> {
    let count = agents.len();
    let counts = Counts::new();
    let started = Instant::now();
    let measure_from = started + warmup;
    let deadline = measure_from + window;
    let issued = Arc::new(Mutex::new(Vec::new()));
    let _ticker = Ticker::start("full cycles", "cycles", None, counts.clone());
    let mut tasks = tokio::task::JoinSet::new();
    for (i, agent) in agents.into_iter().enumerate() {
        let scene = scene.clone();
        let counts = counts.clone();
        let issued = issued.clone();
        tasks.spawn(async move {
            let mut mine: Vec<Timings> = Vec::new();
            let mut k = 0usize;
            while Instant::now() < deadline {
                k += 1;
                // Agent i talks to replica i; the device to either, by turns.
                match one_cycle(&scene, &agent, i, i + k, &issued).await {
                    Ok(t) => {
                        counts.done(1);
                        let ended = Instant::now();
                        if ended >= measure_from && ended <= deadline {
                            mine.push(t);
                        }
                    }
                    Err(e) => {
                        counts.error(&e);
                        tokio::time::sleep(AFTER_ERROR).await;
                    }
                }
            }
            mine
        });
    }
    // CPU time of every process over the window.
    tokio::time::sleep_until(measure_from.into()).await;
    let cpu_before = cpu_times(&pids);
    let machine_before = super::launch::machine_cpu()?;
    tokio::time::sleep_until(deadline.into()).await;
    let cpu_after = cpu_times(&pids);
    let (machine_busy, machine_iowait) =
        machine_before.shares_until(&super::launch::machine_cpu()?);
    let mut all: Vec<Timings> = Vec::new();
    let drained = tokio::time::timeout(DRAIN, async {
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(mut mine) => all.append(&mut mine),
                Err(e) => counts.error(&anyhow::Error::new(e).context("an agent's task failed")),
            }
        }
    })
    .await;
    if drained.is_err() {
        let stuck = tasks.len();
        tasks.abort_all();
        for _ in 0..stuck {
            counts.error(&anyhow::anyhow!(
                "a cycle did not finish within {DRAIN:?} of the end"
            ));
        }
    }
    let mut samples: Vec<Samples> = (0..STEPS.len()).map(|_| Samples::default()).collect();
    for t in &all {
        for (s, d) in samples.iter_mut().zip(t.0) {
            s.push(d);
        }
    }
    let cpu = pids
        .iter()
        .zip(cpu_before.iter().zip(&cpu_after))
        .filter_map(|((name, _), (b, a))| {
            Some((
                name.clone(),
                a.as_ref().ok()?.saturating_sub(*b.as_ref().ok()?),
            ))
        })
        .collect();
    let issued = std::mem::take(&mut *issued.lock().unwrap_or_else(|e| e.into_inner()));
    Ok(CycleResult {
        agents: count,
        window,
        cycles: all.len() as u64,
        per_sec: all.len() as f64 / window.as_secs_f64(),
        steps: STEPS
            .iter()
            .zip(&samples)
            .map(|(n, s)| (*n, s.summary()))
            .collect(),
        errors: counts.errors(),
        messages: counts.messages(),
        cpu,
        machine_busy,
        machine_iowait,
        issued,
    })
}

fn cpu_times(pids: &[(String, u32)]) -> Vec<anyhow::Result<Duration>> {
    pids.iter()
        .map(|(_, pid)| super::launch::cpu_time(*pid))
        .collect()
}

/// One full cycle of agent `agent`, on replica `replica`, approved through replica
/// `approver`.
async fn one_cycle(
    scene: &Scene,
    agent: &Agent,
    replica: usize,
    approver: usize,
    issued: &Mutex<Vec<Cid>>,
) -> anyhow::Result<Timings> {
    let client = agent.on(replica);
    let n = scene::next_n();
    let t0 = Instant::now();
    let id = scene::request(client, n).await.context("request")?;
    let t1 = Instant::now();
    let approve = async {
        let body = scene.sign_approval(approver, &id).await?;
        scene.post_approval(approver, &id, &body).await?;
        anyhow::Ok(Instant::now())
    };
    let fetch = async {
        let container = scene::wait_for_chain(client, &id, POLL, Instant::now() + DRAIN).await?;
        anyhow::Ok((container, Instant::now()))
    };
    let (approved, fetched) = tokio::join!(approve, fetch);
    let approved = approved.context("approve")?;
    let (container, held) = fetched.context("fetch")?;
    let t3 = Instant::now();
    scene
        .gateway
        .invoke(&agent.key, scene.subject(), &container, n)
        .await
        .context("invoke")?;
    let t4 = Instant::now();
    if let Some(cid) = scene::issued_cid(&container) {
        let mut kept = issued.lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() < KEEP_ISSUED {
            kept.push(cid);
        }
    }
    Ok(Timings([
        t1 - t0,
        approved - t1,
        // The agent may hold its chain before the approver has its answer: then zero.
        held.saturating_duration_since(approved),
        t4 - t3,
        t4 - t0,
    ]))
}
