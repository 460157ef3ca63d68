//! `countersign`: issue, inspect and verify UCAN 1.0 capabilities, and run or use the
//! approval service through which agents ask for them and people approve.

mod client;
mod commands;
mod input;
mod keyfile;
mod output;
mod progress;
mod system;

use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::output::Output;

/// jemalloc keeps its bookkeeping apart from the memory it hands out, so buffers that are
/// allocated but never written (hyper's per-connection ones) stay out of the resident set.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
    /// The approval service's URL, for the commands that talk to it. For `audit verify`,
    /// which works offline: the DID of the service that must have signed.
    #[arg(
        long,
        global = true,
        env = "COUNTERSIGN_SERVICE",
        default_value = "http://127.0.0.1:8420"
    )]
    service: String,
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
    /// Sign an invocation and print it with its proofs as a container, or send it to a
    /// gateway (--gateway) and print the answer.
    Invoke(commands::invoke::InvokeArgs),
    /// Check that the invocation in a container is authorised by its proofs.
    Verify(commands::verify::VerifyArgs),
    /// Decode and show every token of a token or container.
    Inspect(commands::inspect::InspectArgs),
    /// Create this machine's owner key, if there is none.
    Init(commands::init::InitArgs),
    /// Run the approval service.
    Serve(commands::serve::ServeArgs),
    /// Run the gateway that holds the real credentials; check its configuration.
    Gateway(commands::gateway::GatewayArgs),
    /// The service's configuration.
    #[command(subcommand)]
    Config(commands::config::ConfigCommand),
    /// The service's database: migrations and online backups.
    Db(commands::db::DbArgs),
    /// Register, list, remove and resume agents (owner).
    Agent(commands::agent::AgentArgs),
    /// Pair, list and remove approver devices.
    #[command(subcommand)]
    Device(commands::device::DeviceCommand),
    /// Ask the owner for a capability (agent); with --wait, wait for it.
    Request(commands::request::RequestArgs),
    /// Approve a request from this approver device.
    Approve(commands::approve::ApproveArgs),
    /// Deny a request from this approver device.
    Deny(commands::deny::DenyArgs),
    /// Revoke a token by its CID (owner, or an issuer in its chain with --key).
    Revoke(commands::revoke::RevokeArgs),
    /// Pull the kill switch on an agent or all agents (owner), or lift it.
    Kill(commands::kill::KillArgs),
    /// The capabilities the service has issued (owner).
    Tokens(commands::tokens::TokensArgs),
    /// Export, verify or follow the audit log.
    #[command(subcommand)]
    Audit(commands::audit::AuditCommand),
    /// Let the service approve low-risk requests without asking (owner).
    AutoApprove(commands::auto::AutoApproveArgs),
    /// Require several devices to approve some commands (owner).
    Quorum(commands::quorum::QuorumArgs),
    /// Load-test a service and gateway started here: full cycles, waiting agents, feed.
    Bench(commands::bench::BenchArgs),
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let service_given = matches.value_source("service") == Some(ValueSource::CommandLine);
    // reqwest is built without a TLS crypto provider: use ring. Another already installed
    // is as good.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let service = cli.service.as_str();
    let result = match cli.command {
        Command::Key(cmd) => cmd.run(cli.output),
        Command::Delegate(args) => args.run(cli.output),
        Command::Invoke(args) => args.run(cli.output),
        Command::Verify(args) => args.run(cli.output),
        Command::Inspect(args) => args.run(cli.output),
        Command::Init(args) => args.run(cli.output),
        Command::Serve(args) => args.run(cli.output),
        Command::Gateway(args) => args.run(cli.output),
        Command::Config(cmd) => cmd.run(),
        Command::Db(args) => args.run(cli.output),
        Command::Agent(args) => args.run(cli.output, service),
        Command::Device(cmd) => cmd.run(cli.output, service),
        Command::Request(args) => args.run(cli.output, service),
        Command::Approve(args) => args.run(cli.output, service),
        Command::Deny(args) => args.run(cli.output, service),
        Command::Revoke(args) => args.run(cli.output, service),
        Command::Kill(args) => args.run(cli.output, service),
        Command::Tokens(args) => args.run(cli.output, service),
        Command::Audit(cmd) => cmd.run(cli.output, service, service_given),
        Command::AutoApprove(args) => args.run(cli.output, service),
        Command::Quorum(args) => args.run(cli.output, service),
        Command::Bench(args) => args.run(cli.output),
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
