//! `countersign invoke`: sign an invocation and print it with its proof chain.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use countersign_core::container::Container;
use countersign_core::validate::{Limits, TokenRef, Validator};
use countersign_core::{Cid, Command, Delegation, Did, InvocationBuilder};
use countersign_server::duration;

use super::delegate::parse_map;
use crate::output::{Output, print_json};
use crate::{input, keyfile, system};

#[derive(Debug, Args)]
pub struct InvokeArgs {
    /// The invoker's key file (PKCS#8 PEM).
    #[arg(long)]
    key: PathBuf,
    /// The executor the invocation is addressed to.
    #[arg(long)]
    to: Did,
    /// The command to run, e.g. /email/send.
    #[arg(long)]
    cmd: Command,
    /// The arguments, as a JSON object.
    #[arg(long, default_value = "{}")]
    args: String,
    /// Delegations (tokens or containers) proving the invoker's authority, in any order.
    #[arg(long, num_args = 1..)]
    proof: Vec<String>,
    /// The subject acted on (default: the subject of the root proof, or the invoker).
    #[arg(long)]
    subject: Option<Did>,
    /// Lifetime from now, e.g. 30s, 5m (default 5m).
    #[arg(long, default_value = "5m")]
    expires_in: String,
}

impl InvokeArgs {
    pub fn run(self, output: Output) -> anyhow::Result<ExitCode> {
        let key = keyfile::read(&self.key)?;
        let args = parse_map(&self.args, "--args")?;
        let lifetime = duration::parse(&self.expires_in).map_err(anyhow::Error::msg)?;
        let candidates = read_delegations(&self.proof)?;
        let chain = select_chain(key.did(), &self.cmd, self.subject, &candidates)?;
        let subject = match (self.subject, chain.first()) {
            (Some(s), _) => s,
            (None, Some(&root)) => candidates[root].1.subject.unwrap_or(key.did()),
            (None, None) => key.did(),
        };
        let now = system::now();
        let signed = InvocationBuilder::new(subject, self.cmd, args)
            .audience(self.to)
            .proofs(chain.iter().map(|&i| candidates[i].0.clone()).collect())
            .expiration(Some(now.saturating_add(lifetime)))
            .issued_at(now)
            .sign(&key, &mut system::nonces()?);
        let mut tokens = vec![signed.bytes];
        tokens.extend(chain.iter().map(|&i| candidates[i].2.clone()));
        let text = Container::new(tokens).to_text();
        match output {
            Output::Text => println!("{text}"),
            Output::Json => print_json(&serde_json::json!({
                "cid": signed.cid.to_string(),
                "container": text,
            })),
        }
        Ok(ExitCode::SUCCESS)
    }
}

type Candidate = (Cid, Delegation, Vec<u8>);

fn read_delegations(args: &[String]) -> anyhow::Result<Vec<Candidate>> {
    let validator = Validator::new(Limits::default(), 0);
    input::all_tokens(args)?
        .into_iter()
        .map(|bytes| {
            let cid = Cid::dag_cbor(&bytes);
            let delegation = validator
                .open_delegation(&TokenRef::Proof(0, cid.clone()), &bytes)
                .with_context(|| format!("proof {cid}"))?;
            Ok((cid, delegation, bytes))
        })
        .collect()
}

/// Orders the proofs root first: from the invoker, follow delegations up by audience
/// until one is issued by its own subject.
fn select_chain(
    invoker: Did,
    cmd: &Command,
    subject: Option<Did>,
    candidates: &[Candidate],
) -> anyhow::Result<Vec<usize>> {
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let mut chain = Vec::new();
    let mut holder = invoker;
    while chain.len() < candidates.len() {
        let next = candidates.iter().enumerate().find(|(i, (_, d, _))| {
            !chain.contains(i)
                && d.audience == holder
                && d.command.proves(cmd)
                && (subject.is_none() || d.subject.is_none() || d.subject == subject)
        });
        let Some((i, (_, d, _))) = next else { break };
        chain.push(i);
        if d.subject == Some(d.issuer) {
            chain.reverse();
            return Ok(chain);
        }
        holder = d.issuer;
    }
    if chain.is_empty() {
        bail!("none of the proofs delegates {cmd} to {invoker}");
    }
    bail!("the proofs do not reach a delegation issued by its subject; add the missing ones")
}
