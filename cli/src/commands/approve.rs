//! `countersign approve`: approve a request from this approver device, by signing a
//! device → service delegation of exactly what was requested (or less).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use countersign_core::policy::{Policy, PolicyLimits};
use countersign_core::{Command, DelegationBuilder, Map, Value, json};
use countersign_server::approval::matching::MATCH_META;
use data_encoding::BASE64;
use serde::Deserialize;
use serde_json::{Value as Json, json};

use crate::client::{self, Client, segment, typed};
use crate::output::{Output, clean, date, print_json};
use crate::{keyfile, progress, system};

#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// The request's id.
    request: String,
    /// Policy statements to add to what was requested, narrowing it (JSON list).
    #[arg(long)]
    narrow_policy: Option<String>,
    /// Issue the capability for less than the requested lifetime, e.g. 1m.
    #[arg(long)]
    expires_in: Option<String>,
    /// The code the agent shows, when the request needs number matching (asked on the
    /// terminal otherwise).
    #[arg(long = "match", value_name = "CODE")]
    match_code: Option<String>,
    /// This device's key (default: device.pem in the CLI's configuration directory).
    #[arg(long)]
    key: Option<PathBuf>,
}

/// A request as an approver reads it.
#[derive(Debug, Deserialize)]
pub(crate) struct RequestView {
    id: String,
    agent: AgentRef,
    cmd: String,
    policy: Json,
    summary: String,
    lifetime: u64,
    state: String,
    match_choices: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
struct AgentRef {
    name: String,
}

impl ApproveArgs {
    pub fn run(self, output: Output, service: &str) -> anyhow::Result<ExitCode> {
        let key = keyfile::device(self.key.as_deref())?;
        let id = segment(&self.request, "request id")?;
        let narrowing = match &self.narrow_policy {
            Some(text) => {
                let value: Json =
                    serde_json::from_str(text).context("--narrow-policy: not JSON")?;
                policy(&value).context("--narrow-policy")?
            }
            None => Policy::default(),
        };
        let shorter = self
            .expires_in
            .as_deref()
            .map(countersign_server::duration::parse)
            .transpose()
            .map_err(anyhow::Error::msg)
            .context("--expires-in")?;
        client::runtime()?.block_on(async {
            let client = Client::connect(service, key).await?;
            let (request, body, expiration) =
                sign_approval(&client, id, &narrowing, shorter, self.match_code).await?;
            let answer = client
                .post(&format!("/v1/requests/{id}/approve"), &body)
                .await?;
            match output {
                Output::Json => print_json(&answer),
                Output::Text => {
                    let decided: RequestView = typed(answer)?;
                    if decided.state == "pending" {
                        println!("counted {id}: recorded; another device must approve too");
                        return Ok(ExitCode::SUCCESS);
                    }
                    println!(
                        "{} {id}: {} for {} ({}), valid until {}",
                        clean(&decided.state),
                        clean(&request.cmd),
                        clean(&request.agent.name),
                        clean(&request.summary),
                        date(expiration)
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        })
    }
}

/// Reads the pending request `id` and signs, with the client's (device) key, the device →
/// service delegation approving it: the requested command and policy plus `narrowing`,
/// for the requested lifetime or `shorter`. The request as read, the body to post to its
/// `approve`, and when the approval expires.
pub(crate) async fn sign_approval(
    client: &Client,
    id: &str,
    narrowing: &Policy,
    shorter: Option<u64>,
    match_code: Option<String>,
) -> anyhow::Result<(RequestView, Json, u64)> {
    let request: RequestView = typed(client.get(&format!("/v1/requests/{id}")).await?)?;
    if request.id != id {
        bail!("the service answered about another request");
    }
    if request.state != "pending" {
        bail!("the request is {}, not pending", clean(&request.state));
    }
    let cmd: Command = request
        .cmd
        .parse()
        .context("the request's command is invalid")?;
    let requested = policy(&request.policy).context("the request's policy")?;
    let picked = pick_match(request.match_choices.as_deref(), match_code)?;
    let mut statements = requested.statements().to_vec();
    statements.extend(narrowing.statements().iter().cloned());
    let lifetime = shorter.map_or(request.lifetime, |s| s.min(request.lifetime));
    let expiration = system::now().saturating_add(lifetime);
    let mut builder = DelegationBuilder::new(client.service, Some(client.owner), cmd)
        .policy(Policy::new(statements))
        .expiration(Some(expiration));
    if let Some(code) = picked {
        let mut meta = Map::new();
        meta.insert(MATCH_META, Value::String(code));
        builder = builder.meta(meta);
    }
    let signed = builder.sign(client.key(), &mut system::nonces()?);
    let body = json!({ "delegation": BASE64.encode(&signed.bytes) });
    Ok((request, body, expiration))
}

/// The code to sign into the approval when the request needs number matching.
fn pick_match(choices: Option<&[String]>, given: Option<String>) -> anyhow::Result<Option<String>> {
    let Some(choices) = choices else {
        return Ok(None);
    };
    let choices: Vec<String> = choices.iter().map(|c| clean(c)).collect();
    let listed = choices.join(", ");
    let code = match given {
        Some(code) => code,
        None if progress::can_ask() => {
            progress::ask(&format!("Which code does the agent show ({listed})?"))?
        }
        None => bail!(
            "this request needs number matching: pass --match with the code the agent shows \
             (one of {listed})"
        ),
    };
    let code = code.trim().to_owned();
    if !choices.contains(&code) {
        bail!("{code:?} is not among the codes offered ({listed})");
    }
    Ok(Some(code))
}

fn policy(value: &Json) -> anyhow::Result<Policy> {
    Ok(Policy::parse(
        &json::from_json(value)?,
        &PolicyLimits::default(),
    )?)
}
