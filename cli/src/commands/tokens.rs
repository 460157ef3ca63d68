//! `countersign tokens list`: the capabilities the service has issued, live or not.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde::Deserialize;

use super::show::{Table, at};
use crate::client::{self, Client, segment, typed};
use crate::keyfile;
use crate::output::{Output, print_json};
use crate::system;

#[derive(Debug, Args)]
pub struct TokensArgs {
    /// The owner's key (default: the one `countersign init` created).
    #[arg(long, global = true)]
    key: Option<PathBuf>,
    #[command(subcommand)]
    command: TokensCommand,
}

#[derive(Debug, Subcommand)]
enum TokensCommand {
    /// List issued capabilities, newest first.
    List {
        /// Only this agent's (by name).
        #[arg(long)]
        agent: Option<String>,
        /// Only those neither expired nor revoked.
        #[arg(long)]
        live: bool,
    },
}

#[derive(Debug, Deserialize)]
struct TokenView {
    cid: String,
    kind: String,
    agent: Option<String>,
    command: String,
    issued_at: i64,
    expires_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl TokensArgs {
    pub fn run(self, output: Output, service: &str) -> anyhow::Result<ExitCode> {
        let key = keyfile::owner(self.key.as_deref())?;
        let TokensCommand::List { agent, live } = self.command;
        let mut query = Vec::new();
        if let Some(name) = &agent {
            query.push(format!("agent={}", segment(name, "agent name")?));
        }
        if live {
            query.push("live=true".to_owned());
        }
        let path = if query.is_empty() {
            "/v1/tokens".to_owned()
        } else {
            format!("/v1/tokens?{}", query.join("&"))
        };
        let answer = client::runtime()?
            .block_on(async { Client::connect(service, key).await?.get(&path).await })?;
        match output {
            Output::Json => print_json(&answer),
            Output::Text => {
                let tokens: Vec<TokenView> = typed(answer)?;
                if tokens.is_empty() {
                    println!("no {}capabilities", if live { "live " } else { "" });
                    return Ok(ExitCode::SUCCESS);
                }
                let now = i64::try_from(system::now()).unwrap_or(i64::MAX);
                let mut table = Table::new(&[
                    "CID", "AGENT", "COMMAND", "KIND", "ISSUED", "EXPIRES", "STATE",
                ]);
                for t in &tokens {
                    let state = match (t.revoked_at, t.expires_at) {
                        (Some(when), _) => format!("revoked {}", at(when)),
                        (None, Some(exp)) if exp <= now => "expired".to_owned(),
                        (None, _) => "live".to_owned(),
                    };
                    table.row(vec![
                        t.cid.clone(),
                        t.agent.clone().unwrap_or_else(|| "-".to_owned()),
                        t.command.clone(),
                        t.kind.clone(),
                        at(t.issued_at),
                        t.expires_at.map_or_else(|| "never".to_owned(), at),
                        state,
                    ]);
                }
                table.print();
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}
