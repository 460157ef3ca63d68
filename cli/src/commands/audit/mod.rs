//! `countersign audit export|verify|tail`: the service's hash-chained audit log, exported
//! with its signed checkpoints, verified offline, or followed live.

mod export;
mod tail;
mod verify;

use std::process::ExitCode;

use clap::Subcommand;

use crate::output::Output;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Export the log (owner): JSON lines ending with a checkpoint the service signs now.
    Export(export::ExportArgs),
    /// Check an export offline: the chain of hashes, the sequence, and the service's
    /// signatures over it. Exit 0 if it holds, 1 if not (the first bad line is named).
    ///
    /// With `--service DID`, the checkpoints must be signed by that service's key;
    /// without it, the service the export names is trusted (and shown).
    Verify(verify::VerifyArgs),
    /// Print the log's entries as they are written (owner), until interrupted.
    Tail(tail::TailArgs),
}

impl AuditCommand {
    /// `given` says whether `--service` was on the command line: `audit verify` reads a
    /// DID there as the service that must have signed.
    pub fn run(self, output: Output, service: &str, given: bool) -> anyhow::Result<ExitCode> {
        match self {
            AuditCommand::Export(args) => args.run(output, service),
            AuditCommand::Verify(args) => {
                // A URL names no key: the scripts that always pass one pin nothing.
                let url = service.starts_with("http://") || service.starts_with("https://");
                args.run(output, (given && !url).then_some(service))
            }
            AuditCommand::Tail(args) => args.run(output, service),
        }
    }
}
