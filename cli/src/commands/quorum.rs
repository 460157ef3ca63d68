//! `countersign quorum add|list|remove`: commands that need approvals from several
//! distinct devices before the service issues.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use countersign_core::Command;
use serde::Deserialize;
use serde_json::{Value as Json, json};

use super::show::{Table, policy_json, statements};
use crate::client::{self, Client, segment, typed};
use crate::keyfile;
use crate::output::{Output, clean, print_json};

#[derive(Debug, Args)]
pub struct QuorumArgs {
    /// The owner's key (default: the one `countersign init` created).
    #[arg(long, global = true)]
    key: Option<PathBuf>,
    #[command(subcommand)]
    command: QuorumCommand,
}

#[derive(Debug, Subcommand)]
enum QuorumCommand {
    /// Require K distinct devices to approve requests for a command (and its
    /// subcommands).
    Add {
        /// The command prefix, e.g. /payment.
        #[arg(long)]
        cmd: Command,
        /// Only when these policy statements hold for the request's arguments (JSON
        /// list), e.g. '[[">", ".amount", 10000]]' (default: always).
        #[arg(long)]
        when: Option<String>,
        /// How many distinct devices must approve (2 to 10).
        #[arg(long, value_name = "K")]
        approvals: u32,
    },
    /// List the quorum rules.
    List,
    /// Remove a quorum rule (by the id `list` shows).
    Remove { id: String },
}

#[derive(Debug, Deserialize)]
struct RuleView {
    id: String,
    cmd: String,
    when: Json,
    approvals: u32,
}

impl QuorumArgs {
    pub fn run(self, output: Output, service: &str) -> anyhow::Result<ExitCode> {
        let key = keyfile::owner(self.key.as_deref())?;
        client::runtime()?.block_on(async {
            match self.command {
                QuorumCommand::Add {
                    cmd,
                    when,
                    approvals,
                } => {
                    if !(2..=10).contains(&approvals) {
                        anyhow::bail!("--approvals must be between 2 and 10");
                    }
                    let when = when
                        .as_deref()
                        .map(|text| policy_json(text, "--when"))
                        .transpose()?;
                    let body = json!({ "cmd": cmd.as_str(), "when": when, "approvals": approvals });
                    let answer = Client::connect(service, key)
                        .await?
                        .post("/v1/quorum-rules", &body)
                        .await?;
                    match output {
                        Output::Json => print_json(&answer),
                        Output::Text => {
                            let rule: RuleView = typed(answer)?;
                            println!(
                                "added quorum rule {}: {} needs {} approvals{}",
                                clean(&rule.id),
                                clean(&rule.cmd),
                                rule.approvals,
                                condition(&rule.when)
                            );
                        }
                    }
                }
                QuorumCommand::List => {
                    let answer = Client::connect(service, key)
                        .await?
                        .get("/v1/quorum-rules")
                        .await?;
                    match output {
                        Output::Json => print_json(&answer),
                        Output::Text => {
                            let rules: Vec<RuleView> = typed(answer)?;
                            if rules.is_empty() {
                                println!("no quorum rules; add one with `countersign quorum add`");
                            } else {
                                let mut table = Table::new(&["ID", "COMMAND", "APPROVALS", "WHEN"]);
                                for r in &rules {
                                    table.row(vec![
                                        r.id.clone(),
                                        r.cmd.clone(),
                                        r.approvals.to_string(),
                                        when_text(&r.when),
                                    ]);
                                }
                                table.print();
                            }
                        }
                    }
                }
                QuorumCommand::Remove { id } => {
                    let path = format!("/v1/quorum-rules/{}", segment(&id, "quorum rule id")?);
                    Client::connect(service, key).await?.delete(&path).await?;
                    match output {
                        Output::Json => print_json(&json!({ "removed": id })),
                        Output::Text => println!("removed quorum rule {id}"),
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        })
    }
}

fn is_always(when: &Json) -> bool {
    when.is_null() || when.as_array().is_some_and(Vec::is_empty)
}

fn when_text(when: &Json) -> String {
    if is_always(when) {
        "always".to_owned()
    } else {
        statements(when)
    }
}

fn condition(when: &Json) -> String {
    if is_always(when) {
        String::new()
    } else {
        format!(" when {}", statements(when))
    }
}
