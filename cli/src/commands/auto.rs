//! `countersign auto-approve add|list|remove`: standing owner → service delegations under
//! which the service issues a request's capability without asking a person.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use countersign_core::{Command, DelegationBuilder};
use countersign_server::duration;
use data_encoding::BASE64;
use serde::Deserialize;
use serde_json::{Value as Json, json};

use super::delegate::parse_policy;
use super::show::{Table, at, statements};
use crate::client::{self, Client, segment, typed};
use crate::output::{Output, clean, print_json};
use crate::{keyfile, system};

#[derive(Debug, Args)]
pub struct AutoApproveArgs {
    /// The owner's key (default: the one `countersign init` created).
    #[arg(long, global = true)]
    key: Option<PathBuf>,
    #[command(subcommand)]
    command: AutoCommand,
}

#[derive(Debug, Subcommand)]
enum AutoCommand {
    /// Approve requests for a command (and its subcommands) whose exact arguments satisfy
    /// a policy, without asking anyone, until the delegation expires.
    Add {
        /// The command, e.g. /email/send.
        #[arg(long)]
        cmd: Command,
        /// The arguments it covers, as a JSON list of policy statements, e.g.
        /// '[["like", ".to", "*@example.com"]]' (default: any arguments).
        #[arg(long)]
        policy: Option<String>,
        /// How long the auto-approval lasts, e.g. 8h, 30d.
        #[arg(long, default_value = "30d")]
        expires_in: String,
    },
    /// List the auto-approvals in force.
    List,
    /// Stop auto-approving under a delegation (by the CID `list` shows).
    Remove { cid: String },
}

#[derive(Debug, Deserialize)]
struct AutoView {
    cid: String,
    command: String,
    policy: Json,
    expires_at: i64,
}

impl AutoApproveArgs {
    pub fn run(self, output: Output, service: &str) -> anyhow::Result<ExitCode> {
        let key = keyfile::owner(self.key.as_deref())?;
        client::runtime()?.block_on(async {
            match self.command {
                AutoCommand::Add {
                    cmd,
                    policy,
                    expires_in,
                } => {
                    let policy = parse_policy(policy.as_deref())?;
                    let lifetime = duration::parse(&expires_in)
                        .map_err(anyhow::Error::msg)
                        .context("--expires-in")?;
                    let client = Client::connect(service, key).await?;
                    let expiration = system::now().saturating_add(lifetime);
                    let signed = DelegationBuilder::new(client.service, Some(client.owner), cmd)
                        .policy(policy)
                        .expiration(Some(expiration))
                        .sign(client.key(), &mut system::nonces()?);
                    let body = json!({ "delegation": BASE64.encode(&signed.bytes) });
                    let answer = client.post("/v1/auto-approvals", &body).await?;
                    match output {
                        Output::Json => print_json(&answer),
                        Output::Text => {
                            let added: AutoView = typed(answer)?;
                            println!(
                                "auto-approving {} where {} until {}",
                                clean(&added.command),
                                statements(&added.policy),
                                at(added.expires_at)
                            );
                            println!("cid: {}", clean(&added.cid));
                        }
                    }
                }
                AutoCommand::List => {
                    let client = Client::connect(service, key).await?;
                    let answer = client.get("/v1/auto-approvals").await?;
                    match output {
                        Output::Json => print_json(&answer),
                        Output::Text => {
                            let autos: Vec<AutoView> = typed(answer)?;
                            if autos.is_empty() {
                                println!(
                                    "no auto-approvals; add one with `countersign auto-approve add`"
                                );
                            } else {
                                let mut table =
                                    Table::new(&["CID", "COMMAND", "EXPIRES", "POLICY"]);
                                for a in &autos {
                                    table.row(vec![
                                        a.cid.clone(),
                                        a.command.clone(),
                                        at(a.expires_at),
                                        statements(&a.policy),
                                    ]);
                                }
                                table.print();
                            }
                        }
                    }
                }
                AutoCommand::Remove { cid } => {
                    let path = format!("/v1/auto-approvals/{}", segment(&cid, "CID")?);
                    Client::connect(service, key).await?.delete(&path).await?;
                    match output {
                        Output::Json => print_json(&json!({ "removed": cid })),
                        Output::Text => {
                            println!("removed auto-approval {cid}");
                            println!(
                                "capabilities already issued under it stay valid until they expire; \
                                 `countersign revoke {cid}` ends them too"
                            );
                        }
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        })
    }
}
