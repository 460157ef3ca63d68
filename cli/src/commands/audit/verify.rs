//! `countersign audit verify`: check an export offline, with no service.

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use countersign_core::Did;
use countersign_server::audit::{ExportLine, Problem, Summary, verify_export};
use serde_json::json;

use crate::output::{Output, clean, print_json};

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The export (`countersign audit export`), or `-` for standard input.
    file: String,
}

/// What the export says beyond the library's summary: who it names, and how far the
/// service's signatures reach.
#[derive(Debug, Default)]
struct Reach {
    named: Option<String>,
    /// The highest checkpoint (its entry count and time).
    signed: Option<(i64, i64)>,
    /// The line of each entry, by sequence number.
    entry_lines: Vec<(i64, usize)>,
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
        let reach = reach(&text);
        let verdict =
            verify_export(&text, pinned.as_ref()).and_then(|summary| covered(summary, &reach));
        let signer = pinned
            .map(|d| d.to_string())
            .or_else(|| reach.named.clone())
            .unwrap_or_default();
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
                        "service": signer,
                        "service_from_file": from_file,
                        "signed_through": reach.signed.map(|(count, _)| count),
                    })),
                    Output::Text => print_summary(&summary, &reach, &signer, from_file),
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

/// Reads the lines the way the verifier numbers them (1-based, blank lines counted).
fn reach(text: &str) -> Reach {
    let mut reach = Reach::default();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<ExportLine>(line) {
            Ok(ExportLine::Header(h)) if reach.named.is_none() => reach.named = Some(h.service),
            Ok(ExportLine::Entry(e)) => reach.entry_lines.push((e.seq, i + 1)),
            Ok(ExportLine::Checkpoint(c)) => {
                if reach.signed.is_none_or(|(count, _)| c.count > count) {
                    reach.signed = Some((c.count, c.at));
                }
            }
            _ => {}
        }
    }
    reach
}

/// An export whose last entries no checkpoint covers is refused: anyone can append
/// entries that chain correctly, or cut the log short together with its last
/// checkpoint, and only the service's signature tells.
fn covered(summary: Summary, reach: &Reach) -> Result<Summary, Problem> {
    let Some(last) = summary.last_seq else {
        return Ok(summary);
    };
    let signed = reach.signed.map_or(0, |(count, _)| count);
    if signed >= last {
        return Ok(summary);
    }
    let first = summary.first_seq.unwrap_or(1).max(signed + 1);
    let line = reach
        .entry_lines
        .iter()
        .find(|(seq, _)| *seq == first)
        .map_or(1, |(_, line)| *line);
    let what = if first == last {
        format!("entry {first} is")
    } else {
        format!("entries {first} to {last} are")
    };
    Err(Problem {
        line,
        what: format!(
            "{what} not covered by a checkpoint the service signed (they may have been added, \
             or later entries removed)"
        ),
    })
}

fn print_summary(summary: &Summary, reach: &Reach, signer: &str, from_file: bool) {
    match (summary.first_seq, summary.last_seq) {
        (Some(first), Some(last)) => println!(
            "valid: {} entries ({first} to {last}), {} checkpoints",
            summary.entries, summary.checkpoints
        ),
        _ => println!("valid: no entries, {} checkpoints", summary.checkpoints),
    }
    println!("head: {}", clean(&summary.head));
    if let Some((count, at)) = reach.signed {
        let at = u64::try_from(at).map_or_else(|_| at.to_string(), crate::output::date);
        println!("signed through entry {count} at {at}");
    }
    if from_file {
        println!(
            "signed by: {} (the service the file names; pass --service with the DID you trust \
             to pin it)",
            clean(signer)
        );
    } else {
        println!("signed by: {} (as --service requires)", clean(signer));
    }
}
