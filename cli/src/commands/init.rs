//! `countersign init`: create this machine's owner key, once.

use std::process::ExitCode;

use clap::Args;
use countersign_server::setup;

use crate::output::{Output, print_json};

#[derive(Debug, Args)]
pub struct InitArgs {}

impl InitArgs {
    pub fn run(self, output: Output) -> anyhow::Result<ExitCode> {
        let path = setup::owner_key_path();
        let (key, created) = setup::load_or_create_key(&path)?;
        match output {
            Output::Text => {
                if created {
                    println!("created the owner key {}", path.display());
                } else {
                    println!("the owner key {} already exists", path.display());
                }
                println!("owner DID: {}", key.did());
            }
            Output::Json => print_json(&serde_json::json!({
                "path": path.display().to_string(),
                "created": created,
                "did": key.did().to_string(),
            })),
        }
        Ok(ExitCode::SUCCESS)
    }
}
