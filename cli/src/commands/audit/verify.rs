//! `countersign audit verify`: check an export offline, with no service.

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use countersign_core::Did;
use countersign_server::audit::{Summary, verify_export};
use serde_json::json;

use crate::commands::show::count;
use crate::output::{Output, clean, print_json};

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The export (`countersign audit export`), or `-` for standard input.
    file: String,
}

impl VerifyArgs {
    /// `service` is the `--service` given on the command line, if it was: here, the DID
    /// of the service whose key must have signed the checkpoints. Without it, the service
    /// the export names is taken at its word.
    pub fn run(self, output: Output, service: Option<&str>) -> anyhow::Result<ExitCode> {
        let pinned: Option<Did> = service
            .map(|text| {
                text.parse().with_context(|| {
                    format!(
                        "--service {text:?}: verification is offline; give the DID of the \
                         service that signed the export (did:key:…)"
                    )
                })
            })
            .transpose()?;
        let text = read(&self.file)?;
        let verdict = verify_export(&text, pinned.as_ref());
        let from_file = pinned.is_none();
        match verdict {
            Ok(summary) => {
                match output {
                    Output::Json => print_json(&json!({
                        "valid": true,
                        "entries": summary.entries,
                        "checkpoints": summary.checkpoints,
                        "first_seq": summary.first_seq,
                        "last_seq": summary.last_seq,
                        "head": summary.head,
                        "service": summary.service.to_string(),
                        "service_from_file": from_file,
                        "signed_through": summary.signed_through,
                    })),
                    Output::Text => print_summary(&summary, from_file),
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(problem) => {
                match output {
                    Output::Json => print_json(&json!({
                        "valid": false,
                        "line": problem.line,
                        "problem": problem.what,
                    })),
                    Output::Text => println!("invalid: {}", clean(&problem.to_string())),
                }
                Ok(ExitCode::from(1))
            }
        }
    }
}

fn read(file: &str) -> anyhow::Result<String> {
    if file == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read standard input")?;
        Ok(text)
    } else {
        std::fs::read_to_string(Path::new(file)).with_context(|| format!("cannot read {file}"))
    }
}

fn print_summary(summary: &Summary, from_file: bool) {
    let signer = summary.service.to_string();
    let checkpoints = count(
        u64::try_from(summary.checkpoints).unwrap_or(u64::MAX),
        "checkpoint",
        "checkpoints",
    );
    match (summary.first_seq, summary.last_seq) {
        (Some(first), Some(last)) => println!(
            "valid: {} ({first} to {last}), {checkpoints}",
            count(
                u64::try_from(summary.entries).unwrap_or(u64::MAX),
                "entry",
                "entries"
            ),
        ),
        _ => println!("valid: no entries, {checkpoints}"),
    }
    println!("head: {}", clean(&summary.head));
    if let Some(at) = summary.signed_at {
        let at = u64::try_from(at).map_or_else(|_| at.to_string(), crate::output::date);
        println!("signed through entry {} at {at}", summary.signed_through);
    }
    if from_file {
        println!(
            "signed by: {} (the service the file names; pass --service with the DID you trust \
             to pin it)",
            clean(&signer)
        );
    } else {
        println!("signed by: {} (as --service requires)", clean(&signer));
    }
}
