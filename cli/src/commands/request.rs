//! `countersign request`: an agent asks for a capability and, with `--wait`, waits for
//! the decision.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use countersign_core::Command;
use serde::Deserialize;
use serde_json::{Map, Value as Json, json};

use crate::client::{self, Client, refusal, segment, typed};
use crate::output::{Output, clean, date, print_json};
use crate::{keyfile, progress};

/// How long one long-poll asks the service to wait.
const WAIT: Duration = Duration::from_secs(30);
/// Consecutive failures to reach the service tolerated while waiting.
const MAX_RETRIES: u32 = 30;
const RETRY_PAUSE: Duration = Duration::from_secs(2);

/// Exit status when the request was denied.
const DENIED: u8 = 3;
/// Exit status when the request expired, was withdrawn or was cancelled.
const NOT_DECIDED: u8 = 4;

#[derive(Debug, Args)]
pub struct RequestArgs {
    /// The agent's key (PKCS#8 PEM).
    #[arg(long)]
    key: PathBuf,
    /// The command asked for, e.g. /email/send.
    #[arg(long)]
    cmd: Command,
    /// The exact arguments the agent will invoke with, as a JSON object.
    #[arg(long)]
    args: Option<String>,
    /// Extra policy statements, or without --args the range of calls asked for (JSON list).
    #[arg(long)]
    policy: Option<String>,
    /// One line for the approver.
    #[arg(long)]
    summary: String,
    /// Why the agent wants to do this.
    #[arg(long)]
    reason: Option<String>,
    /// The side effects, as JSON: {"fields": [{"path", "before", "after"}], "text": "…"}.
    #[arg(long)]
    diff: Option<String>,
    /// How long the capability should live once issued, e.g. 5m.
    #[arg(long)]
    lifetime: Option<String>,
    /// How long the request may wait for a decision, e.g. 10m.
    #[arg(long)]
    expires_in: Option<String>,
    /// Wait for the decision; print the capability (a container) when approved.
    #[arg(long)]
    wait: bool,
}

#[derive(Debug, Deserialize)]
struct Created {
    id: String,
    expires_at: i64,
    code: String,
}

#[derive(Debug, Deserialize)]
struct RequestView {
    state: String,
    denial_reason: Option<String>,
    container: Option<String>,
}

impl RequestArgs {
    pub fn run(self, output: Output, service: &str) -> anyhow::Result<ExitCode> {
        let key = keyfile::read(&self.key)?;
        let body = self.body()?;
        client::runtime()?.block_on(async {
            let client = Client::connect(service, key).await?;
            let answer = client.post("/v1/requests", &body).await?;
            let created: Created = typed(answer.clone())?;
            let id = segment(&created.id, "request id")?.to_owned();
            if !self.wait {
                match output {
                    Output::Json => print_json(&answer),
                    Output::Text => {
                        println!("{id}");
                        eprintln!("code: {}", clean(&created.code));
                    }
                }
                return Ok(ExitCode::SUCCESS);
            }
            if output == Output::Text {
                eprintln!("request: {id}");
                eprintln!("code: {}", clean(&created.code));
            }
            let expires = u64::try_from(created.expires_at).map_or_else(|_| "?".to_owned(), date);
            let view = {
                let _spinner = progress::Spinner::start(&format!(
                    "waiting for a decision (the request expires {expires})"
                ));
                wait_final(&client, &id).await?
            };
            let request: RequestView = typed(view.clone())?;
            if output == Output::Json {
                print_json(&view);
            }
            match request.state.as_str() {
                "approved" => {
                    let container = request
                        .container
                        .context("the request is approved but the service gave no capability")?;
                    if output == Output::Text {
                        println!("{container}");
                    }
                    Ok(ExitCode::SUCCESS)
                }
                "denied" => {
                    if output == Output::Text {
                        let reason = request.denial_reason.unwrap_or_default();
                        eprintln!("denied: {}", clean(&reason));
                    }
                    Ok(ExitCode::from(DENIED))
                }
                state => {
                    if output == Output::Text {
                        eprintln!("{}: no capability was issued", clean(state));
                    }
                    Ok(ExitCode::from(NOT_DECIDED))
                }
            }
        })
    }

    /// The request body, with each JSON flag checked here for a clear error.
    fn body(&self) -> anyhow::Result<Json> {
        let mut body = Map::new();
        body.insert("cmd".into(), json!(self.cmd.as_str()));
        body.insert("summary".into(), json!(self.summary));
        if let Some(reason) = &self.reason {
            body.insert("reason".into(), json!(reason));
        }
        if let Some(args) = &self.args {
            let args = parse_json(args, "--args")?;
            if !args.is_object() {
                bail!("--args must be a JSON object");
            }
            body.insert("args".into(), args);
        }
        if let Some(policy) = &self.policy {
            let policy = parse_json(policy, "--policy")?;
            if !policy.is_array() {
                bail!("--policy must be a JSON list of statements");
            }
            body.insert("policy".into(), policy);
        }
        if let Some(diff) = &self.diff {
            body.insert("diff".into(), parse_json(diff, "--diff")?);
        }
        for (flag, field, value) in [
            ("--lifetime", "lifetime", &self.lifetime),
            ("--expires-in", "expires_in", &self.expires_in),
        ] {
            if let Some(text) = value {
                let secs = countersign_server::duration::parse(text)
                    .map_err(anyhow::Error::msg)
                    .context(flag)?;
                body.insert(field.into(), json!(secs));
            }
        }
        Ok(Json::Object(body))
    }
}

fn parse_json(text: &str, flag: &str) -> anyhow::Result<Json> {
    serde_json::from_str(text).with_context(|| format!("{flag}: not valid JSON"))
}

/// Long-polls until the request is no longer pending; its final view.
/// Riding out a restart of the service: failures to reach it are retried for a while.
async fn wait_final(client: &Client, id: &str) -> anyhow::Result<Json> {
    let path = format!("/v1/requests/{id}/wait?timeout={}", WAIT.as_secs());
    let mut failures = 0;
    loop {
        match client.get_long(&path, WAIT).await {
            Ok(view) => {
                failures = 0;
                let state: RequestView = typed(view.clone())?;
                // Every state but pending is final.
                if state.state != "pending" {
                    return Ok(view);
                }
            }
            Err(e) if refusal(&e).is_none() && failures < MAX_RETRIES => {
                failures += 1;
                tokio::time::sleep(RETRY_PAUSE).await;
            }
            Err(e) => return Err(e),
        }
    }
}
