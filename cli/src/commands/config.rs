//! `countersign config example`: the service's configuration file, commented.

use std::process::ExitCode;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print an example configuration file with every key and its default.
    Example,
}

impl ConfigCommand {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        match self {
            ConfigCommand::Example => print!("{}", countersign_server::config::EXAMPLE),
        }
        Ok(ExitCode::SUCCESS)
    }
}
