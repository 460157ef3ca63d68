//! `countersign key generate|did`: make Ed25519 keys and show their DIDs.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use countersign_core::Keypair;

use crate::output::{Output, print_json};
use crate::{keyfile, system};

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a new Ed25519 key and print its DID.
    Generate {
        /// Write the key here (PKCS#8 PEM, mode 0600). Without it, the PEM goes to
        /// standard output and the DID to standard error.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print the DID of a key file.
    Did {
        /// A PKCS#8 PEM Ed25519 private key.
        file: PathBuf,
    },
}

impl KeyCommand {
    pub fn run(self, output: Output) -> anyhow::Result<ExitCode> {
        match self {
            KeyCommand::Generate { out } => {
                let key = Keypair::from_seed(&system::random()?);
                match out {
                    Some(path) => {
                        keyfile::write_new(&path, &key)?;
                        print_did(&key, output);
                    }
                    None => {
                        std::io::stdout().write_all(key.to_pkcs8_pem()?.as_bytes())?;
                        eprintln!("{}", key.did());
                    }
                }
            }
            KeyCommand::Did { file } => print_did(&keyfile::read(&file)?, output),
        }
        Ok(ExitCode::SUCCESS)
    }
}

fn print_did(key: &Keypair, output: Output) {
    match output {
        Output::Text => println!("{}", key.did()),
        Output::Json => print_json(&serde_json::json!({ "did": key.did().to_string() })),
    }
}
