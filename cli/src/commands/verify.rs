//! `countersign verify`: is the invocation in a container authorised by its proofs?

use std::process::ExitCode;

use clap::Args;
use countersign_core::envelope::{Envelope, TokenKind};
use countersign_core::validate::{Context, Limits, NoRevocations, ProofSet, Validated, Validator};
use countersign_core::{Did, ErrorKind};

use crate::output::{Output, print_json};
use crate::{input, system};

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A container holding an invocation and its proofs, or a lone invocation; `-` reads
    /// standard input.
    input: String,
    /// Validate at this Unix time instead of now.
    #[arg(long)]
    now: Option<u64>,
    /// Require the invocation to be addressed to this executor.
    #[arg(long)]
    audience: Option<Did>,
}

/// Valid, or the kind and message of the first problem.
type Verdict = Result<Validated, (ErrorKind, String)>;

impl VerifyArgs {
    pub fn run(self, output: Output) -> anyhow::Result<ExitCode> {
        let verdict = match input::tokens(&self.input) {
            Ok(tokens) => self.check(tokens),
            Err(e) => Err((ErrorKind::MalformedToken, crate::one_line(&e))),
        };
        let valid = verdict.is_ok();
        match (output, &verdict) {
            (Output::Text, Ok(v)) => println!(
                "valid: {} of {} by {} on {} ({} proofs)",
                v.cid,
                v.invocation.command,
                v.invocation.issuer,
                v.invocation.subject,
                v.proofs.len()
            ),
            (Output::Text, Err((kind, message))) => println!("invalid: {kind}: {message}"),
            (Output::Json, Ok(v)) => print_json(&serde_json::json!({
                "valid": true, "error": null, "message": null, "cid": v.cid.to_string(),
            })),
            (Output::Json, Err((kind, message))) => print_json(&serde_json::json!({
                "valid": false, "error": kind.as_str(), "message": message,
            })),
        }
        Ok(if valid {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    }

    fn check(&self, tokens: Vec<Vec<u8>>) -> Verdict {
        let (invocations, proofs): (Vec<_>, Vec<_>) = tokens
            .into_iter()
            .partition(|t| Envelope::open(t).is_ok_and(|e| e.kind == TokenKind::Invocation));
        let invocation = match invocations.as_slice() {
            [one] => one,
            [] => return malformed("no invocation found among the tokens"),
            _ => return malformed("more than one invocation found; give one at a time"),
        };
        let ctx = Context {
            now: self.now.unwrap_or_else(system::now),
            audience: self.audience,
            revocations: &NoRevocations,
        };
        let validator = Validator::new(Limits::default(), 0);
        validator
            .validate(invocation, &ProofSet::new(proofs), &ctx)
            .map_err(|e| (e.kind(), e.to_string()))
    }
}

fn malformed(message: &str) -> Verdict {
    Err((ErrorKind::MalformedToken, message.to_owned()))
}
