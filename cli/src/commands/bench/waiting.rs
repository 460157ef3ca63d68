//! Approval to agent with many agents waiting: `waiting + approvals` agents each ask once
//! and long-poll for the decision; once the service holds every long-poll, the device
//! approves `approvals` of them one after another, so that at least `waiting` agents are
//! waiting throughout, and each approval is timed until its agent holds its chain.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinSet;

use super::scene::{self, Agent, Scene};
use super::stats::{Samples, Summary};
use super::ticker::{Counts, Ticker};

/// What each long-poll asks the service to hold at most.
pub const HOLD: Duration = Duration::from_secs(600);
/// How long the service may take to hold every long-poll.
const SETTLE: Duration = Duration::from_secs(120);
/// How long one approval may take to reach its agent before it counts as an error.
const DELIVERY: Duration = Duration::from_secs(10);
/// Requests created at once during the set-up.
const SETUP_CONCURRENCY: usize = 16;

#[derive(Debug)]
pub struct WaitingResult {
    pub waiting: usize,
    pub approvals: usize,
    /// Approval sent → agent holds its chain: an upper bound on commit → agent.
    pub sent_to_held: Option<Summary>,
    /// The approver has the service's answer (sent after the commit) → agent holds its
    /// chain; zero when the agent was first. A lower bound on commit → agent.
    pub answered_to_held: Option<Summary>,
    /// Approval sent → the approver has the service's answer: the approval call itself.
    pub call: Option<Summary>,
    /// How many agents held their chain before the approver had its answer.
    pub agent_first: usize,
    /// With several replicas: sent → held for agents waiting on the replica that took the
    /// approval, and on another one.
    pub same_replica: Option<Summary>,
    pub other_replica: Option<Summary>,
    pub errors: u64,
    pub messages: Vec<String>,
}

/// Agents, one request each, on replica `i` for agent `i`; their ids.
pub async fn create_requests(
    agents: &[Agent],
    counts: &Arc<Counts>,
) -> anyhow::Result<Vec<String>> {
    let limit = Arc::new(Semaphore::new(SETUP_CONCURRENCY));
    let mut tasks = JoinSet::new();
    for (i, agent) in agents.iter().enumerate() {
        let client = agent.on(i).with_key(agent.key.clone());
        let limit = limit.clone();
        let counts = counts.clone();
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let id = scene::request(&client, scene::next_n()).await;
            counts.done(1);
            (i, id)
        });
    }
    let mut ids = vec![String::new(); agents.len()];
    while let Some(joined) = tasks.join_next().await {
        let (i, id) = joined.context("a request task failed")?;
        ids[i] = id.with_context(|| format!("agent {i}'s request"))?;
    }
    Ok(ids)
}

/// Waits until the service holds `expected` long-polls (summed over replicas).
pub async fn until_waiting(scene: &Scene, expected: u64, patience: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + patience;
    loop {
        let now_waiting = scene.waiting().await?;
        if now_waiting >= expected {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("the service holds {now_waiting} of {expected} long-polls after {patience:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn run(
    scene: Arc<Scene>,
    agents: Vec<Agent>,
    waiting: usize,
    approvals: usize,
) -> anyhow::Result<WaitingResult> {
    let total = agents.len();
    let setup = Counts::new();
    let ids = {
        let _ticker = Ticker::start(
            "waiting: asking",
            "requests",
            Some(total as u64),
            setup.clone(),
        );
        create_requests(&agents, &setup).await?
    };
    // Which agents' requests are approved: spread evenly over all of them.
    let timed: Vec<usize> = (0..approvals)
        .map(|k| k * total / approvals.max(1))
        .collect();
    let counts = Counts::new();
    let mut receivers: HashMap<usize, oneshot::Receiver<anyhow::Result<Instant>>> = HashMap::new();
    let mut polls = JoinSet::new();
    let end = Instant::now() + HOLD;
    for (i, (agent, id)) in agents.iter().zip(&ids).enumerate() {
        let client = agent.on(i).with_key(agent.key.clone());
        let id = id.clone();
        let (tx, rx) = oneshot::channel();
        if timed.contains(&i) {
            receivers.insert(i, rx);
        }
        polls.spawn(async move {
            let held = scene::wait_for_chain(&client, &id, HOLD, end)
                .await
                .map(|_| Instant::now());
            let _ = tx.send(held);
        });
    }
    until_waiting(&scene, total as u64, SETTLE)
        .await
        .context("opening the long-polls")?;
    eprintln!(
        "bench: waiting: {total} agents waiting; approving {approvals} of them, one at a time"
    );
    let _ticker = Ticker::start(
        "waiting: approving",
        "approvals",
        Some(approvals as u64),
        counts.clone(),
    );
    let replicas = scene.replicas();
    let (mut sent_to_held, mut answered_to_held) = (Samples::default(), Samples::default());
    let mut call = Samples::default();
    let (mut same, mut other) = (Samples::default(), Samples::default());
    let mut agent_first = 0;
    for (k, &i) in timed.iter().enumerate() {
        let Some(rx) = receivers.remove(&i) else {
            continue;
        };
        // The device reads the request and signs before the clock starts: the time is
        // from its approval leaving to the agent holding the chain. With several
        // replicas, the device uses the agent's own replica for every other approval and
        // the next one for the rest.
        let approver = if k % 2 == 0 { i } else { i + 1 };
        let measured = async {
            let body = scene.sign_approval(approver, &ids[i]).await?;
            let sent = Instant::now();
            scene.post_approval(approver, &ids[i], &body).await?;
            let answered = Instant::now();
            let held = tokio::time::timeout(DELIVERY, rx)
                .await
                .context("the agent did not get its chain in time")?
                .context("the agent's long-poll ended")??;
            anyhow::Ok((sent, answered, held))
        };
        match measured.await {
            Ok((sent, answered, held)) => {
                let total = held.saturating_duration_since(sent);
                sent_to_held.push(total);
                if held < answered {
                    agent_first += 1;
                }
                answered_to_held.push(held.saturating_duration_since(answered));
                call.push(answered - sent);
                if i % replicas == approver % replicas {
                    same.push(total);
                } else {
                    other.push(total);
                }
                counts.done(1);
            }
            Err(e) => counts.error(&e),
        }
    }
    polls.abort_all();
    let several = replicas > 1;
    Ok(WaitingResult {
        waiting,
        approvals,
        sent_to_held: sent_to_held.summary(),
        answered_to_held: answered_to_held.summary(),
        call: call.summary(),
        agent_first,
        same_replica: if several { same.summary() } else { None },
        other_replica: if several { other.summary() } else { None },
        errors: counts.errors() + setup.errors(),
        messages: counts.messages(),
    })
}
