//! The people and programs of the benchmark, acting through the real API as a user would:
//! the owner registers agents and pairs an approver device through the pairing code flow;
//! agents ask, wait and invoke at the gateway; the device approves with signatures of its
//! own key. Everything here reuses the CLI's own calls.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use countersign_core::container::Container;
use countersign_core::policy::Policy;
use countersign_core::{Cid, Command, Did, InvocationBuilder, Keypair, Map, Value};
use serde::Deserialize;
use serde_json::{Value as Json, json};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::launch::{ALLOW, COMMAND};
use super::ticker::Counts;
use crate::client::{Client, segment, typed};
use crate::commands::approve::sign_approval;
use crate::commands::device::{join, pair};
use crate::{input, system};

/// How long the standing delegation of the bench's device lasts.
const STANDING: u64 = 24 * 3600;
/// Set-up calls in flight at once.
const SETUP_CONCURRENCY: usize = 16;
/// How long one call to the gateway may take.
const GATEWAY_TIMEOUT: Duration = Duration::from_secs(30);
/// Lifetime of an invocation.
const INVOCATION_LIFETIME: u64 = 60;

/// Distinct args for every request of the run, so that none is merged with another.
static NEXT_N: AtomicU64 = AtomicU64::new(1);

pub fn next_n() -> u64 {
    NEXT_N.fetch_add(1, Ordering::Relaxed)
}

/// The owner and the paired device, as seen through each service replica, and the
/// gateway.
#[derive(Debug)]
pub struct Scene {
    /// A short random tag in every agent name, so that runs never collide.
    pub run: String,
    /// The owner's client for each replica.
    pub owner: Vec<Client>,
    /// The device's client for each replica.
    pub device: Vec<Client>,
    pub gateway: Gateway,
    /// For calls that need no key: the revocation feed, metrics.
    pub http: reqwest::Client,
    pub urls: Vec<String>,
}

/// An agent with its own key and a client for each replica.
#[derive(Debug)]
pub struct Agent {
    pub key: Keypair,
    clients: Vec<Client>,
}

impl Agent {
    /// Its client for replica `i` (modulo the number of replicas).
    pub fn on(&self, i: usize) -> &Client {
        &self.clients[i % self.clients.len()]
    }
}

/// The gateway's address and DID: the audience of every invocation.
#[derive(Debug)]
pub struct Gateway {
    pub url: String,
    pub did: Did,
    http: reqwest::Client,
}

#[derive(Debug, Deserialize)]
struct Created {
    id: String,
    state: String,
}

#[derive(Debug, Deserialize)]
struct Decided {
    state: String,
    container: Option<String>,
}

impl Scene {
    /// Connects to every replica as the owner and pairs a new approver device: the owner
    /// opens a pairing on the first replica, the device claims the code on the last one
    /// (checking the verification code), the owner checks who claimed it and signs the
    /// device's standing delegation for the bench's commands.
    pub async fn setup(
        urls: &[String],
        owner: &Keypair,
        gateway_url: &str,
        gateway_did: Did,
        http: reqwest::Client,
    ) -> anyhow::Result<Scene> {
        let mut owners = Vec::new();
        for url in urls {
            owners.push(Client::connect(url, owner.clone()).await?);
        }
        let device_key = Keypair::from_seed(&system::random::<32>()?);
        let device: Vec<Client> = owners
            .iter()
            .map(|o| o.with_key(device_key.clone()))
            .collect();
        let (first, last) = match (owners.first(), device.last()) {
            (Some(f), Some(l)) => (f, l),
            _ => bail!("no service to run against"),
        };
        let allow = [ALLOW
            .parse::<Command>()
            .map_err(|e| anyhow!("{ALLOW}: {e}"))?];
        let policy = Policy::default();
        let pairing = pair::open(first, Some("bench approver"), &allow, &policy, STANDING)
            .await
            .context("opening a pairing")?;
        let claimed = join::claim(last, &pairing.code, "bench approver")
            .await
            .context("claiming the pairing code")?;
        let path = format!("/v1/pairings/{}", segment(&pairing.id, "pairing id")?);
        let view: pair::PairingView = typed(first.get(&path).await?)?;
        if claimed.pairing_id != pairing.id
            || view.state != "claimed"
            || view.device_did.as_deref() != Some(device_key.did().to_string().as_str())
        {
            bail!("the pairing was not claimed by the bench's device");
        }
        let expiration = system::now().saturating_add(STANDING);
        pair::confirm(
            first,
            &pairing.id,
            device_key.did(),
            &allow,
            &policy,
            expiration,
        )
        .await
        .context("confirming the pairing")?;
        Ok(Scene {
            run: data_encoding::HEXLOWER.encode(&system::random::<3>()?),
            owner: owners,
            device,
            gateway: Gateway {
                url: gateway_url.to_owned(),
                did: gateway_did,
                http: http.clone(),
            },
            http,
            urls: urls.to_vec(),
        })
    }

    /// The same owner, device and gateway through fresh connections to `urls` (after the
    /// service restarted).
    pub async fn reconnect(&self, urls: &[String]) -> anyhow::Result<Scene> {
        let mut owner = Vec::new();
        for url in urls {
            owner.push(Client::connect(url, self.owner[0].key().clone()).await?);
        }
        let device = owner
            .iter()
            .map(|o| o.with_key(self.device[0].key().clone()))
            .collect();
        Ok(Scene {
            run: self.run.clone(),
            owner,
            device,
            gateway: Gateway {
                url: self.gateway.url.clone(),
                did: self.gateway.did,
                http: self.http.clone(),
            },
            http: self.http.clone(),
            urls: urls.to_vec(),
        })
    }

    pub fn replicas(&self) -> usize {
        self.owner.len()
    }

    /// The owner's DID: the subject of every chain.
    pub fn subject(&self) -> Did {
        self.owner[0].owner
    }

    /// Registers `count` new agents allowed the bench's commands, several at a time.
    pub async fn register(
        &self,
        label: &str,
        count: usize,
        counts: &Arc<Counts>,
    ) -> anyhow::Result<Vec<Agent>> {
        let limit = Arc::new(Semaphore::new(SETUP_CONCURRENCY));
        let mut tasks = JoinSet::new();
        for i in 0..count {
            let key = Keypair::from_seed(&system::random::<32>()?);
            let owner = &self.owner[i % self.replicas()];
            let owner = owner.with_key(owner.key().clone());
            let name = format!("b{}-{label}{i}", self.run);
            let limit = limit.clone();
            let counts = counts.clone();
            tasks.spawn(async move {
                let _permit = limit.acquire_owned().await;
                let body = json!({ "name": name, "did": key.did().to_string(), "allow": [ALLOW] });
                let added = owner.post("/v1/agents", &body).await;
                counts.done(1);
                (i, key, added)
            });
        }
        let mut keys: Vec<Option<Keypair>> = (0..count).map(|_| None).collect();
        while let Some(joined) = tasks.join_next().await {
            let (i, key, added) = joined.context("a registration task failed")?;
            added.with_context(|| format!("registering agent {i}"))?;
            keys[i] = Some(key);
        }
        Ok(keys
            .into_iter()
            .flatten()
            .map(|key| Agent {
                clients: self.owner.iter().map(|o| o.with_key(key.clone())).collect(),
                key,
            })
            .collect())
    }

    /// The device reads the request and signs its approval (command and policy as asked);
    /// the body to post.
    pub async fn sign_approval(&self, replica: usize, id: &str) -> anyhow::Result<Json> {
        let device = &self.device[replica % self.replicas()];
        let (_, body, _) = sign_approval(device, id, &Policy::default(), None, None).await?;
        Ok(body)
    }

    /// Posts a signed approval; fails unless the capability was issued.
    pub async fn post_approval(&self, replica: usize, id: &str, body: &Json) -> anyhow::Result<()> {
        let device = &self.device[replica % self.replicas()];
        let answer: Decided = typed(
            device
                .post(&format!("/v1/requests/{id}/approve"), body)
                .await?,
        )?;
        if answer.state != "approved" {
            bail!("the approval left the request {}", answer.state);
        }
        Ok(())
    }

    /// The sum over replicas of `countersign_waiting_requests`: requests someone waits on.
    pub async fn waiting(&self) -> anyhow::Result<u64> {
        let mut total = 0;
        for url in &self.urls {
            let text = self
                .http
                .get(format!("{url}/metrics"))
                .timeout(Duration::from_secs(10))
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
                .with_context(|| format!("{url}/metrics"))?
                .text()
                .await
                .with_context(|| format!("{url}/metrics"))?;
            let value = text
                .lines()
                .find_map(|l| l.strip_prefix("countersign_waiting_requests "))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or_else(|| anyhow!("{url}/metrics has no countersign_waiting_requests"))?;
            total += value;
        }
        Ok(total)
    }
}

/// The agent asks for the bench's command with args `{"n": n}`; the request's id.
pub async fn request(client: &Client, n: u64) -> anyhow::Result<String> {
    let body = json!({
        "cmd": COMMAND,
        "args": { "n": n },
        "summary": format!("bench call {n}"),
        "expires_in": 3600,
    });
    let created: Created = typed(client.post("/v1/requests", &body).await?)?;
    if created.state != "pending" {
        bail!("the new request is {}, not pending", created.state);
    }
    Ok(segment(&created.id, "request id")?.to_owned())
}

/// The agent long-polls until its request is decided (each poll held up to `poll`), and
/// until `deadline`; the container with its chain once approved.
pub async fn wait_for_chain(
    client: &Client,
    id: &str,
    poll: Duration,
    deadline: Instant,
) -> anyhow::Result<String> {
    let path = format!("/v1/requests/{id}/wait?timeout={}", poll.as_secs());
    loop {
        let view: Decided = typed(client.get_long(&path, poll).await?)?;
        match view.state.as_str() {
            "approved" => {
                return view
                    .container
                    .ok_or_else(|| anyhow!("approved, but the service gave no chain"));
            }
            "pending" if Instant::now() < deadline => {}
            "pending" => bail!("still pending when the phase ended"),
            state => bail!("the request was {state}"),
        }
    }
}

impl Gateway {
    /// The agent invokes the bench's command at the gateway with the chain it holds; fails
    /// unless the gateway ran it.
    pub async fn invoke(
        &self,
        agent: &Keypair,
        subject: Did,
        container: &str,
        n: u64,
    ) -> anyhow::Result<()> {
        let chain = input::parse_tokens(container.as_bytes()).context("the agent's chain")?;
        // The service's container holds the chain root first, as the invocation lists it.
        let proofs: Vec<Cid> = chain.iter().map(|t| Cid::dag_cbor(t)).collect();
        let mut args = Map::new();
        args.insert("n", Value::Integer(i128::from(n)));
        let cmd = COMMAND
            .parse::<Command>()
            .map_err(|e| anyhow!("{COMMAND}: {e}"))?;
        let now = system::now();
        let signed = InvocationBuilder::new(subject, cmd, args)
            .audience(self.did)
            .proofs(proofs)
            .expiration(Some(now + INVOCATION_LIFETIME))
            .issued_at(now)
            .sign(agent, &mut system::nonces()?);
        let mut tokens = vec![signed.bytes];
        tokens.extend(chain);
        let response = self
            .http
            .post(format!("{}/v1/invoke", self.url))
            .header(reqwest::header::CONTENT_TYPE, "text/plain")
            .body(Container::new(tokens).to_text())
            .timeout(GATEWAY_TIMEOUT)
            .send()
            .await
            .context("cannot reach the gateway")?;
        let status = response.status();
        let answer: Json = response
            .json()
            .await
            .with_context(|| format!("the gateway answered HTTP {status}, not with JSON"))?;
        if status.is_success() && answer.get("ok") == Some(&Json::Bool(true)) {
            return Ok(());
        }
        let error = answer.get("error");
        let field = |k: &str| {
            error
                .and_then(|e| e.get(k))
                .and_then(Json::as_str)
                .unwrap_or("?")
        };
        bail!(
            "the gateway answered HTTP {status}: {} ({})",
            field("message"),
            field("kind")
        )
    }
}

/// The CID of the capability issued to the agent: the last token of its chain.
pub fn issued_cid(container: &str) -> Option<Cid> {
    let chain = input::parse_tokens(container.as_bytes()).ok()?;
    chain.last().map(|t| Cid::dag_cbor(t))
}
