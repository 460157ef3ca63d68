//! `countersign device pair`: the owner's side of pairing an approver device.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use countersign_core::policy::Policy;
use countersign_core::{Command, DelegationBuilder, Did, json};
use countersign_server::pairing::verification_string;
use data_encoding::BASE64;
use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;
use serde::Deserialize;
use serde_json::json;

use crate::client::{self, Client, segment, typed};
use crate::commands::delegate::parse_policy;
use crate::output::{Output, clean, date, print_json};
use crate::{keyfile, progress, system};

/// How often to look whether a device has claimed the code.
const POLL: Duration = Duration::from_millis(500);

#[derive(Debug, Args)]
pub struct PairArgs {
    /// A name for the device (the device may give its own when it claims the code).
    #[arg(long)]
    name: Option<String>,
    /// A command the device may approve, e.g. /email; repeat for more (default: /, all).
    #[arg(long)]
    allow: Vec<Command>,
    /// Policy every approval by the device must satisfy, as a JSON list of statements.
    #[arg(long)]
    policy: Option<String>,
    /// How long the device may approve, e.g. 30d.
    #[arg(long, default_value = "90d")]
    expires_in: String,
    /// Do not ask whether the device shows the same verification code (for scripts).
    #[arg(long)]
    yes: bool,
    /// The owner's key (default: the one `countersign init` created).
    #[arg(long)]
    key: Option<PathBuf>,
}

/// A pairing just opened.
#[derive(Debug, Deserialize)]
pub(crate) struct PairingCreated {
    pub(crate) id: String,
    pub(crate) code: String,
    url: String,
    expires_at: i64,
}

/// A pairing as the owner sees it: `open`, then `claimed` by a device.
#[derive(Debug, Deserialize)]
pub(crate) struct PairingView {
    pub(crate) state: String,
    pub(crate) device_did: Option<String>,
    device_name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Confirmed {
    device_id: String,
}

impl PairArgs {
    pub fn run(self, output: Output, service: &str) -> anyhow::Result<ExitCode> {
        let key = keyfile::owner(self.key.as_deref())?;
        if !self.yes && !progress::can_ask() {
            bail!(
                "there is no terminal to ask whether the device shows the same code; \
                 run this in a terminal, or pass --yes"
            );
        }
        let lifetime =
            countersign_server::duration::parse(&self.expires_in).map_err(anyhow::Error::msg)?;
        let policy = parse_policy(self.policy.as_deref())?;
        let mut allow: Vec<Command> = Vec::new();
        for cmd in self.allow {
            if !allow.contains(&cmd) {
                allow.push(cmd);
            }
        }
        if allow.is_empty() {
            allow.push(Command::top());
        }
        // Progress for people: standard output in text mode, standard error with JSON.
        let say = |line: &str| match output {
            Output::Text => println!("{line}"),
            Output::Json => eprintln!("{line}"),
        };

        let runtime = client::runtime()?;
        let (client, pairing, device) = runtime.block_on(async {
            let client = Client::connect(service, key).await?;
            let pairing = open(&client, self.name.as_deref(), &allow, &policy, lifetime).await?;
            let expires = u64::try_from(pairing.expires_at).map_or_else(|_| "?".to_owned(), date);
            match output {
                Output::Json => print_json(&json!({
                    "id": pairing.id,
                    "code": pairing.code,
                    "url": pairing.url,
                    "expires_at": pairing.expires_at,
                })),
                Output::Text => {
                    println!("pairing code: {} (expires {expires})", clean(&pairing.code));
                    println!("open on the device: {}", clean(&pairing.url));
                    if let Some(qr) = qr(&pairing.url) {
                        println!("{qr}");
                    }
                    println!(
                        "or, on a terminal: countersign device join {}",
                        clean(&pairing.code)
                    );
                }
            }
            let device = wait_for_claim(&client, &pairing).await?;
            anyhow::Ok((client, pairing, device))
        })?;

        let (device_did, device_name) = device;
        let verification = verification_string(&pairing.code, &device_did, &client.service);
        say(&format!(
            "device {:?} ({device_did}) claimed the code",
            clean(&device_name)
        ));
        say(&format!("verification code: {verification}"));
        if !self.yes && !progress::ask_yes("Does the device show the same code?")? {
            eprintln!("not confirmed: the device was not paired");
            return Ok(ExitCode::from(1));
        }

        let expiration = system::now().saturating_add(lifetime);
        let device_id = runtime.block_on(confirm(
            &client,
            &pairing.id,
            device_did,
            &allow,
            &policy,
            expiration,
        ))?;
        match output {
            Output::Json => print_json(&json!({
                "device_id": device_id,
                "device_did": device_did.to_string(),
                "device_name": device_name,
                "verification": verification,
                "standing_expires_at": expiration,
            })),
            Output::Text => println!(
                "paired device {} ({}); it may approve {} until {}",
                clean(&device_id),
                clean(&device_name),
                allow
                    .iter()
                    .map(Command::as_str)
                    .collect::<Vec<_>>()
                    .join(" "),
                date(expiration)
            ),
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// Opens a pairing (owner): the one-time code a device claims, valid for ten minutes.
/// The device will approve `allow` under `policy` for `lifetime` seconds once confirmed.
pub(crate) async fn open(
    client: &Client,
    name: Option<&str>,
    allow: &[Command],
    policy: &Policy,
    lifetime: u64,
) -> anyhow::Result<PairingCreated> {
    let body = json!({
        "name": name,
        "allow": allow.iter().map(Command::as_str).collect::<Vec<_>>(),
        "policy": json::to_json(&policy.to_value()),
        "expires_in": lifetime,
    });
    typed(client.post("/v1/pairings", &body).await?)
}

/// Confirms a claimed pairing (owner): signs an owner → device standing delegation for
/// each of `allow`, under `policy`, until `expiration`. The new device's id.
pub(crate) async fn confirm(
    client: &Client,
    pairing_id: &str,
    device: Did,
    allow: &[Command],
    policy: &Policy,
    expiration: u64,
) -> anyhow::Result<String> {
    let mut delegations = Vec::new();
    for cmd in allow {
        let signed = DelegationBuilder::new(device, Some(client.owner), cmd.clone())
            .policy(policy.clone())
            .expiration(Some(expiration))
            .sign(client.key(), &mut system::nonces()?);
        delegations.push(BASE64.encode(&signed.bytes));
    }
    let path = format!(
        "/v1/pairings/{}/confirm",
        segment(pairing_id, "pairing id")?
    );
    let confirmed: Confirmed = typed(
        client
            .post(&path, &json!({ "delegations": delegations }))
            .await?,
    )?;
    Ok(confirmed.device_id)
}

/// Waits until a device claims the pairing, or its code expires: the device's DID and name.
async fn wait_for_claim(
    client: &Client,
    pairing: &PairingCreated,
) -> anyhow::Result<(Did, String)> {
    let path = format!("/v1/pairings/{}", segment(&pairing.id, "pairing id")?);
    let _spinner = progress::Spinner::start("waiting for a device to claim the code");
    loop {
        let view: PairingView = typed(client.get(&path).await?)?;
        match (view.state.as_str(), view.device_did) {
            ("claimed", Some(did)) => {
                let did: Did = did
                    .parse()
                    .context("the service reported an invalid device DID")?;
                return Ok((did, view.device_name.unwrap_or_default()));
            }
            ("open", _) => {}
            (state, _) => bail!("the pairing is {}, not waiting for a device", clean(state)),
        }
        let now = i64::try_from(system::now()).unwrap_or(i64::MAX);
        if now >= pairing.expires_at {
            bail!("the pairing code expired before a device claimed it");
        }
        tokio::time::sleep(POLL).await;
    }
}

/// `text` as a QR code drawn with half blocks, light on dark as terminals usually are.
fn qr(text: &str) -> Option<String> {
    let code = QrCode::new(text.as_bytes()).ok()?;
    Some(
        code.render::<Dense1x2>()
            .dark_color(Dense1x2::Light)
            .light_color(Dense1x2::Dark)
            .build(),
    )
}
