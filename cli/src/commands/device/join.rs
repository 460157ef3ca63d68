//! `countersign device join`: the device's side of pairing, making this terminal an
//! approver.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Args;
use countersign_server::pairing::verification_string;
use countersign_server::setup;
use serde::Deserialize;
use serde_json::json;

use crate::client::{self, Client, refusal, typed};
use crate::keyfile;
use crate::output::{Output, clean, print_json};
use crate::progress;

/// How often to look whether the owner has confirmed.
const POLL: Duration = Duration::from_millis(500);
/// How long a pairing code lives: the owner has at most this long to confirm.
const CODE_LIFETIME: Duration = Duration::from_secs(600);

#[derive(Debug, Args)]
pub struct JoinArgs {
    /// The pairing code `countersign device pair` shows.
    code: String,
    /// A name for this device, shown to the owner.
    #[arg(long)]
    name: Option<String>,
    /// This device's key (default: device.pem in the CLI's configuration directory),
    /// created if missing.
    #[arg(long)]
    key: Option<PathBuf>,
}

/// A claimed pairing: its id, and the verification code both sides show.
#[derive(Debug, Deserialize)]
pub(crate) struct Claimed {
    pub(crate) pairing_id: String,
    pub(crate) verification: String,
}

#[derive(Debug, Deserialize)]
struct DeviceView {
    id: String,
    name: String,
}

impl JoinArgs {
    pub fn run(self, output: Output, service: &str) -> anyhow::Result<ExitCode> {
        let path = keyfile::device_path(self.key.as_deref());
        let (key, created) = setup::load_or_create_key(&path)?;
        if created {
            eprintln!("created the device key {} ({})", path.display(), key.did());
        }
        let name = self.name.unwrap_or_else(default_name);
        let say = |line: &str| match output {
            Output::Text => println!("{line}"),
            Output::Json => eprintln!("{line}"),
        };
        client::runtime()?.block_on(async {
            let client = Client::connect(service, key).await?;
            let claimed = claim(&client, &self.code, &name).await?;
            let expected = claimed.verification.clone();
            if output == Output::Json {
                print_json(&json!({
                    "pairing_id": claimed.pairing_id,
                    "verification": expected,
                    "did": client.did().to_string(),
                }));
            }
            say(&format!("verification code: {expected}"));
            say("check that the owner's terminal shows the same code, then let the owner confirm");
            let device = wait_for_confirmation(&client).await?;
            match output {
                Output::Json => print_json(&json!({
                    "device_id": device.id,
                    "name": device.name,
                    "did": client.did().to_string(),
                })),
                Output::Text => println!(
                    "paired as device {} ({}); approve with `countersign approve REQUEST_ID`",
                    clean(&device.id),
                    clean(&device.name)
                ),
            }
            Ok(ExitCode::SUCCESS)
        })
    }
}

/// Claims a pairing code with the client's key (the device's side), checking that the
/// verification code the service answers is the one computed here.
pub(crate) async fn claim(client: &Client, code: &str, name: &str) -> anyhow::Result<Claimed> {
    let body = json!({ "code": code, "name": name });
    let claimed: Claimed = typed(client.post("/v1/pairings/claim", &body).await?)?;
    let expected = verification_string(code, &client.did(), &client.service);
    if claimed.verification != expected {
        bail!(
            "the service's verification code {:?} is not the one computed here ({expected}); \
             do not confirm this pairing",
            clean(&claimed.verification)
        );
    }
    Ok(claimed)
}

/// Waits until the service knows this key as a device, for as long as the code lives.
async fn wait_for_confirmation(client: &Client) -> anyhow::Result<DeviceView> {
    let _spinner = progress::Spinner::start("waiting for the owner to confirm");
    let deadline = Instant::now() + CODE_LIFETIME;
    loop {
        match client.get("/v1/devices/me").await {
            Ok(answer) => return typed(answer),
            // Not a device yet: the owner has not confirmed.
            Err(e) if refusal(&e).is_some_and(|r| r.status == 403) => {}
            Err(e) => return Err(e),
        }
        if Instant::now() >= deadline {
            bail!("the owner did not confirm the pairing while its code was valid");
        }
        tokio::time::sleep(POLL).await;
    }
}

/// "terminal on HOST" when the host name is known.
fn default_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .filter(|h| !h.is_empty() && h.len() <= 40 && !h.chars().any(char::is_control))
        .map_or_else(|| "terminal".to_owned(), |h| format!("terminal on {h}"))
}
