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
    /// `given` says whether `--service` was on the command line: `audit verify` reads it
    /// as the DID of the service that must have signed, not as a URL.
    pub fn run(self, output: Output, service: &str, given: bool) -> anyhow::Result<ExitCode> {
        match self {
            AuditCommand::Export(args) => args.run(output, service),
            AuditCommand::Verify(args) => args.run(output, given.then_some(service)),
            AuditCommand::Tail(args) => args.run(output, service),
        }
    }
}
