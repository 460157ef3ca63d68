//! `countersign agent add|list|remove|resume`: the agents that may ask for capabilities.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use countersign_core::{Command, Did};
use serde::Deserialize;
use serde_json::json;

use crate::client::{self, Client, segment, typed};
use crate::keyfile;
use crate::output::{Output, clean, date, print_json};

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// The owner's key (default: the one `countersign init` created).
    #[arg(long, global = true)]
    key: Option<PathBuf>,
    #[command(subcommand)]
    command: AgentCommand,
}

#[derive(Debug, Subcommand)]
enum AgentCommand {
    /// Register an agent: its name, its key's DID, and the commands it may ask for.
    Add {
        /// A short name: letters, digits, '-', '_', '.'.
        name: String,
        /// The agent's DID (`countersign key did AGENT.pem`).
        #[arg(long)]
        did: Did,
        /// A command prefix the agent may request, e.g. /email/send; repeat for more.
        #[arg(long, required = true)]
        allow: Vec<Command>,
        /// Requests it may have pending at once (default: the service's setting).
        #[arg(long)]
        max_pending: Option<u32>,
        /// Requests it may make per minute (default: the service's setting).
        #[arg(long)]
        rate: Option<u32>,
    },
    /// List the registered agents.
    List,
    /// Remove an agent; it can ask for nothing more.
    Remove { name: String },
    /// Let an agent suspended after repeated denials ask again.
    Resume { name: String },
}

#[derive(Debug, Deserialize)]
struct AgentView {
    name: String,
    did: String,
    allow: Vec<String>,
    max_pending: u32,
    rate_per_min: u32,
    created_at: i64,
}

impl AgentArgs {
    pub fn run(self, output: Output, service: &str) -> anyhow::Result<ExitCode> {
        let key = keyfile::owner(self.key.as_deref())?;
        client::runtime()?.block_on(async {
            let client = Client::connect(service, key).await?;
            match self.command {
                AgentCommand::Add {
                    name,
                    did,
                    allow,
                    max_pending,
                    rate,
                } => {
                    let body = json!({
                        "name": name,
                        "did": did.to_string(),
                        "allow": allow.iter().map(Command::as_str).collect::<Vec<_>>(),
                        "max_pending": max_pending,
                        "rate_per_min": rate,
                    });
                    let answer = client.post("/v1/agents", &body).await?;
                    match output {
                        Output::Json => print_json(&answer),
                        Output::Text => {
                            let agent: AgentView = typed(answer)?;
                            println!("added agent {}", clean(&agent.name));
                            print_agent(&agent);
                        }
                    }
                }
                AgentCommand::List => {
                    let answer = client.get("/v1/agents").await?;
                    match output {
                        Output::Json => print_json(&answer),
                        Output::Text => {
                            let agents: Vec<AgentView> = typed(answer)?;
                            if agents.is_empty() {
                                println!("no agents; add one with `countersign agent add`");
                            }
                            for (i, agent) in agents.iter().enumerate() {
                                if i > 0 {
                                    println!();
                                }
                                println!("{}", clean(&agent.name));
                                print_agent(agent);
                            }
                        }
                    }
                }
                AgentCommand::Remove { name } => {
                    let path = format!("/v1/agents/{}", segment(&name, "agent name")?);
                    client.delete(&path).await?;
                    match output {
                        Output::Json => print_json(&json!({ "removed": name })),
                        Output::Text => println!("removed agent {name}"),
                    }
                }
                AgentCommand::Resume { name } => {
                    let path = format!("/v1/agents/{}/resume", segment(&name, "agent name")?);
                    client.post(&path, &json!({})).await?;
                    match output {
                        Output::Json => print_json(&json!({ "resumed": name })),
                        Output::Text => println!("resumed agent {name}: it may ask again"),
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        })
    }
}

fn print_agent(agent: &AgentView) {
    println!("  did          {}", clean(&agent.did));
    println!("  allow        {}", clean(&agent.allow.join(" ")));
    println!("  max pending  {}", agent.max_pending);
    println!("  rate         {} per minute", agent.rate_per_min);
    let created = u64::try_from(agent.created_at).map_or_else(|_| "?".to_owned(), date);
    println!("  added        {created}");
}
