//! `countersign approve`: approve a request from this approver device, by signing a
//! device → service delegation of exactly what was requested (or less).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use countersign_core::policy::{Policy, PolicyLimits};
use countersign_core::{Command, DelegationBuilder, json};
use data_encoding::BASE64;
use serde::Deserialize;
use serde_json::{Value as Json, json};

use crate::client::{self, Client, segment, typed};
use crate::output::{Output, clean, date, print_json};
use crate::{keyfile, system};

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
    /// This device's key (default: device.pem in the CLI's configuration directory).
    #[arg(long)]
    key: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
struct RequestView {
    id: String,
    agent: AgentRef,
    cmd: String,
    policy: Json,
    summary: String,
    lifetime: u64,
    state: String,
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
            let path = format!("/v1/requests/{id}");
            let request: RequestView = typed(client.get(&path).await?)?;
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
            let mut statements = requested.statements().to_vec();
            statements.extend(narrowing.statements().iter().cloned());
            let lifetime = shorter.map_or(request.lifetime, |s| s.min(request.lifetime));
            let expiration = system::now().saturating_add(lifetime);
            let signed = DelegationBuilder::new(client.service, Some(client.owner), cmd)
                .policy(Policy::new(statements))
                .expiration(Some(expiration))
                .sign(client.key(), &mut system::nonces()?);
            let body = json!({ "delegation": BASE64.encode(&signed.bytes) });
            let answer = client.post(&format!("{path}/approve"), &body).await?;
            match output {
                Output::Json => print_json(&answer),
                Output::Text => {
                    let decided: RequestView = typed(answer)?;
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

fn policy(value: &Json) -> anyhow::Result<Policy> {
    Ok(Policy::parse(
        &json::from_json(value)?,
        &PolicyLimits::default(),
    )?)
}
