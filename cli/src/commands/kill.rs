//! `countersign kill`: the kill switch. Revokes every live capability of an agent (or of
//! all agents), cancels their pending requests and refuses new ones until lifted.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgGroup, Args};
use serde::Deserialize;
use serde_json::json;

use super::show::count;
use crate::client::{self, Client, typed};
use crate::keyfile;
use crate::output::{Output, clean, print_json};

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("target").required(true).args(["agent", "all"])))]
pub struct KillArgs {
    /// The agent, by the name it was registered with.
    #[arg(long)]
    agent: Option<String>,
    /// Every agent.
    #[arg(long)]
    all: bool,
    /// Lift the kill switch instead: the agent may ask again (what was revoked stays
    /// revoked).
    #[arg(long)]
    lift: bool,
    /// The owner's key (default: the one `countersign init` created).
    #[arg(long)]
    key: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
struct Report {
    tokens_revoked: u64,
    requests_cancelled: u64,
}

#[derive(Debug, Deserialize)]
struct Lifted {
    lifted: bool,
    still_blocked: bool,
}

impl KillArgs {
    pub fn run(self, output: Output, service: &str) -> anyhow::Result<ExitCode> {
        let key = keyfile::owner(self.key.as_deref())?;
        let (body, target) = match &self.agent {
            Some(name) => (json!({ "agent": name }), format!("agent {}", clean(name))),
            None => (json!({ "all": true }), "all agents".to_owned()),
        };
        let path = if self.lift {
            "/v1/kill/lift"
        } else {
            "/v1/kill"
        };
        let answer = client::runtime()?
            .block_on(async { Client::connect(service, key).await?.post(path, &body).await })?;
        if self.lift {
            let lifted: Lifted = typed(answer.clone())?;
            match output {
                Output::Json => print_json(&answer),
                Output::Text if lifted.still_blocked => println!(
                    "{target} stays blocked: the kill switch on all agents is on until `countersign kill --lift --all`"
                ),
                Output::Text if lifted.lifted => {
                    println!("kill switch lifted for {target}; what was revoked stays revoked")
                }
                Output::Text => {
                    println!("the kill switch was not on for {target}; nothing changed")
                }
            }
            return Ok(ExitCode::SUCCESS);
        }
        let report: Report = typed(answer.clone())?;
        match output {
            Output::Json => print_json(&answer),
            Output::Text => println!(
                "kill switch on for {target}: {} revoked, {} cancelled; lift it with `countersign kill --lift {}`",
                count(report.tokens_revoked, "capability", "capabilities"),
                count(
                    report.requests_cancelled,
                    "pending request",
                    "pending requests"
                ),
                match &self.agent {
                    Some(name) => format!("--agent {}", clean(name)),
                    None => "--all".to_owned(),
                }
            ),
        }
        Ok(ExitCode::SUCCESS)
    }
}
