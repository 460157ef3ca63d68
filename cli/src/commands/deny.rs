//! `countersign deny`: deny a request from this approver device, with a signed statement.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use countersign_server::auth::jwt::{self, Claims};
use data_encoding::HEXLOWER;
use serde::Deserialize;
use serde_json::json;

use crate::client::{self, Client, segment, typed};
use crate::output::{Output, clean, print_json};
use crate::{keyfile, system};

/// Lifetime of the signed denial statement.
const STATEMENT_LIFETIME: i64 = 60;

#[derive(Debug, Args)]
pub struct DenyArgs {
    /// The request's id.
    request: String,
    /// Why, for the agent (and its operator) to read.
    #[arg(long)]
    reason: String,
    /// This device's key (default: device.pem in the CLI's configuration directory).
    #[arg(long)]
    key: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
struct RequestView {
    state: String,
}

impl DenyArgs {
    pub fn run(self, output: Output, service: &str) -> anyhow::Result<ExitCode> {
        let key = keyfile::device(self.key.as_deref())?;
        let id = segment(&self.request, "request id")?;
        client::runtime()?.block_on(async {
            let client = Client::connect(service, key).await?;
            let now = i64::try_from(system::now()).unwrap_or(i64::MAX);
            let claims = Claims {
                iss: client.did().to_string(),
                aud: client.service.to_string(),
                iat: now,
                exp: now.saturating_add(STATEMENT_LIFETIME),
                jti: HEXLOWER.encode(&system::random::<16>()?),
                sub: Some(id.to_owned()),
                reason: Some(self.reason.clone()),
            };
            let statement =
                jwt::sign(client.key(), &claims).context("cannot sign the denial statement")?;
            let body = json!({ "reason": self.reason, "statement": statement });
            let answer = client
                .post(&format!("/v1/requests/{id}/deny"), &body)
                .await?;
            match output {
                Output::Json => print_json(&answer),
                Output::Text => {
                    let decided: RequestView = typed(answer)?;
                    println!("{} {id}", clean(&decided.state));
                }
            }
            Ok(ExitCode::SUCCESS)
        })
    }
}
