//! `countersign`: issue, inspect and verify UCAN 1.0 capabilities.

mod commands;
mod duration;
mod input;
mod keyfile;
mod output;
mod system;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::output::Output;

#[derive(Debug, Parser)]
#[command(
    name = "countersign",
    version,
    about = "Human-approved capabilities for AI agents"
)]
struct Cli {
    /// How to print results.
    #[arg(long, global = true, value_enum, default_value_t = Output::Text)]
    output: Output,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create Ed25519 keys and show their DIDs.
    #[command(subcommand)]
    Key(commands::key::KeyCommand),
    /// Sign a delegation of a command to another principal.
    Delegate(commands::delegate::DelegateArgs),
    /// Sign an invocation and print it with its proofs as a container.
    Invoke(commands::invoke::InvokeArgs),
    /// Check that the invocation in a container is authorised by its proofs.
    Verify(commands::verify::VerifyArgs),
    /// Decode and show every token of a token or container.
    Inspect(commands::inspect::InspectArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Key(cmd) => cmd.run(cli.output),
        Command::Delegate(args) => args.run(cli.output),
        Command::Invoke(args) => args.run(cli.output),
        Command::Verify(args) => args.run(cli.output),
        Command::Inspect(args) => args.run(cli.output),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", one_line(&err));
            ExitCode::from(2)
        }
    }
}

/// An error and its causes on one line.
fn one_line(err: &anyhow::Error) -> String {
    err.chain()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}
