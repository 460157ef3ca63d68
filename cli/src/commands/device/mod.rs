//! `countersign device pair|join|list|remove`: the approver devices.

pub(crate) mod join;
pub(crate) mod pair;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use serde::Deserialize;

use crate::client::{self, Client, segment, typed};
use crate::keyfile;
use crate::output::{Output, clean, date, print_json};

#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// Pair an approver device (owner): show a one-time code and QR code, compare the
    /// verification code the device shows, and sign its standing delegations.
    Pair(pair::PairArgs),
    /// Make this terminal an approver device by claiming a pairing code.
    Join(join::JoinArgs),
    /// List the paired devices (owner).
    List {
        /// The owner's key (default: the one `countersign init` created).
        #[arg(long)]
        key: Option<PathBuf>,
    },
    /// Remove a device and revoke its standing delegations (owner).
    Remove {
        /// The device id, as `device list` shows it.
        id: String,
        /// The owner's key (default: the one `countersign init` created).
        #[arg(long)]
        key: Option<PathBuf>,
    },
}

#[derive(Debug, Deserialize)]
struct DeviceView {
    id: String,
    name: String,
    did: String,
    standing: Vec<String>,
    created_at: i64,
    removed_at: Option<i64>,
}

impl DeviceCommand {
    pub fn run(self, output: Output, service: &str) -> anyhow::Result<ExitCode> {
        match self {
            DeviceCommand::Pair(args) => args.run(output, service),
            DeviceCommand::Join(args) => args.run(output, service),
            DeviceCommand::List { key } => {
                let key = keyfile::owner(key.as_deref())?;
                let answer = client::runtime()?.block_on(async {
                    Client::connect(service, key)
                        .await?
                        .get("/v1/devices")
                        .await
                })?;
                match output {
                    Output::Json => print_json(&answer),
                    Output::Text => {
                        let devices: Vec<DeviceView> = typed(answer)?;
                        if devices.is_empty() {
                            println!("no devices; pair one with `countersign device pair`");
                        }
                        for (i, device) in devices.iter().enumerate() {
                            if i > 0 {
                                println!();
                            }
                            print_device(device);
                        }
                    }
                }
                Ok(ExitCode::SUCCESS)
            }
            DeviceCommand::Remove { id, key } => {
                let key = keyfile::owner(key.as_deref())?;
                let path = format!("/v1/devices/{}", segment(&id, "device id")?);
                let answer = client::runtime()?
                    .block_on(async { Client::connect(service, key).await?.delete(&path).await })?;
                match output {
                    Output::Json => print_json(&answer),
                    Output::Text => {
                        let device: DeviceView = typed(answer)?;
                        println!(
                            "removed device {} ({}); its standing delegations are revoked",
                            clean(&device.id),
                            clean(&device.name)
                        );
                    }
                }
                Ok(ExitCode::SUCCESS)
            }
        }
    }
}

fn print_device(device: &DeviceView) {
    let when = |t: i64| u64::try_from(t).map_or_else(|_| "?".to_owned(), date);
    println!("{}  {}", clean(&device.id), clean(&device.name));
    println!("  did       {}", clean(&device.did));
    println!("  paired    {}", when(device.created_at));
    if let Some(removed) = device.removed_at {
        println!("  removed   {}", when(removed));
    }
    for cid in &device.standing {
        println!("  standing  {}", clean(cid));
    }
}
