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
    Verify(verify::VerifyArgs),
    /// Print the log's entries as they are written (owner), until interrupted.
    Tail(tail::TailArgs),
}

impl AuditCommand {
    pub fn run(self, output: Output, service: &str) -> anyhow::Result<ExitCode> {
        match self {
            AuditCommand::Export(args) => args.run(output, service),
            AuditCommand::Verify(args) => args.run(output),
            AuditCommand::Tail(args) => args.run(output, service),
        }
    }
}
