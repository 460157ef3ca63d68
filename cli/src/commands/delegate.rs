//! `countersign delegate`: sign a delegation.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use countersign_core::container::Container;
use countersign_core::policy::{Policy, PolicyLimits};
use countersign_core::{Command, DelegationBuilder, Did, json};
use countersign_server::duration;
use data_encoding::BASE64;

use crate::output::{Output, print_json};
use crate::{input, keyfile, system};

#[derive(Debug, Args)]
pub struct DelegateArgs {
    /// The issuer's key file (PKCS#8 PEM).
    #[arg(long)]
    key: PathBuf,
    /// The DID receiving the authority.
    #[arg(long)]
    to: Did,
    /// The subject whose authority is delegated (default: the issuer itself).
    #[arg(long, conflicts_with = "powerline")]
    subject: Option<Did>,
    /// Delegate over any subject the issuer holds authority for (`sub: null`).
    #[arg(long)]
    powerline: bool,
    /// The command delegated, e.g. /payment/refund.
    #[arg(long)]
    cmd: Command,
    /// The policy, as a JSON list of statements, e.g. '[["<=", ".amount", 4900]]'.
    #[arg(long)]
    policy: Option<String>,
    /// Lifetime from now, e.g. 10m, 2h, 90d (default 1h).
    #[arg(long, conflicts_with = "no_expiry")]
    expires_in: Option<String>,
    /// Never expire (`exp: null`).
    #[arg(long)]
    no_expiry: bool,
    /// Not valid before this Unix time.
    #[arg(long)]
    not_before: Option<u64>,
    /// Metadata, as a JSON object.
    #[arg(long)]
    meta: Option<String>,
    /// Print a container holding the delegation and these proofs.
    #[arg(long)]
    container: bool,
    /// Tokens or containers to include with `--container`.
    #[arg(long, num_args = 1.., requires = "container")]
    proof: Vec<String>,
}

const DEFAULT_LIFETIME: u64 = 3600;

impl DelegateArgs {
    pub fn run(self, output: Output) -> anyhow::Result<ExitCode> {
        let key = keyfile::read(&self.key)?;
        let now = system::now();
        let subject = if self.powerline {
            None
        } else {
            Some(self.subject.unwrap_or(key.did()))
        };
        let expiration = if self.no_expiry {
            None
        } else {
            let lifetime = match &self.expires_in {
                Some(text) => duration::parse(text).map_err(anyhow::Error::msg)?,
                None => DEFAULT_LIFETIME,
            };
            Some(now.saturating_add(lifetime))
        };
        let mut builder = DelegationBuilder::new(self.to, subject, self.cmd)
            .policy(parse_policy(self.policy.as_deref())?)
            .expiration(expiration);
        if let Some(meta) = &self.meta {
            builder = builder.meta(parse_map(meta, "--meta")?);
        }
        if let Some(nbf) = self.not_before {
            builder = builder.not_before(nbf);
        }
        let signed = builder.sign(&key, &mut system::nonces()?);
        let text = if self.container {
            let mut tokens = vec![signed.bytes.clone()];
            for token in input::all_tokens(&self.proof)? {
                if !tokens.contains(&token) {
                    tokens.push(token);
                }
            }
            Container::new(tokens).to_text()
        } else {
            BASE64.encode(&signed.bytes)
        };
        match output {
            Output::Text => println!("{text}"),
            Output::Json => print_json(&serde_json::json!({
                "cid": signed.cid.to_string(),
                "token": text,
            })),
        }
        Ok(ExitCode::SUCCESS)
    }
}

pub fn parse_policy(text: Option<&str>) -> anyhow::Result<Policy> {
    let Some(text) = text else {
        return Ok(Policy::default());
    };
    let value = json::parse(text).context("--policy")?;
    Policy::parse(&value, &PolicyLimits::default()).context("--policy")
}

pub fn parse_map(text: &str, flag: &str) -> anyhow::Result<countersign_core::Map> {
    match json::parse(text).with_context(|| flag.to_owned())? {
        countersign_core::Value::Map(m) => Ok(m),
        other => bail!("{flag} must be a JSON object, not a {}", other.kind()),
    }
}
