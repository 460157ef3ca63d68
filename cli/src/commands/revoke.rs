//! `countersign revoke`: sign a UCAN revocation record for one token and hand it to the
//! service, which publishes it in its revocation feed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::bail;
use clap::Args;
use countersign_core::Cid;
use countersign_core::envelope::{Envelope, TokenKind};
use countersign_core::policy::PolicyLimits;
use countersign_core::revocation::Revocation;
use countersign_core::{Delegation, Invocation};
use serde::Deserialize;
use serde_json::{Value as Json, json};

use super::show::short_did;
use crate::client::{self, Client, typed};
use crate::output::{Output, clean, print_json};
use crate::{input, keyfile};

#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The token to revoke: its CID (`bafy…` or `z…`), or the token itself (base64, a
    /// file, or `-` for standard input). A container holding several tokens is not
    /// enough: its tokens are listed so one can be chosen.
    token: String,
    /// Why, recorded with the revocation (one line).
    #[arg(long, default_value = "")]
    reason: String,
    /// The revoking key (default: the owner's). An issuer in a token's chain may revoke it
    /// with its own key; the service checks.
    #[arg(long)]
    key: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
struct Accepted {
    cid: String,
    cursor: Option<i64>,
}

impl RevokeArgs {
    pub fn run(self, output: Output, service: &str) -> anyhow::Result<ExitCode> {
        if self.reason.chars().any(char::is_control) {
            bail!("--reason must be one line");
        }
        let cid = match target(&self.token)? {
            Target::Cid(cid) => cid,
            Target::Several(tokens) => {
                let listed: Vec<Json> = tokens.iter().map(|t| describe(t)).collect();
                match output {
                    Output::Json => print_json(&json!({ "tokens": listed })),
                    Output::Text => {
                        for token in &listed {
                            println!("{}", token_line(token));
                        }
                    }
                }
                bail!(
                    "the container holds {} tokens; revoke one of them by its CID (listed above)",
                    tokens.len()
                );
            }
        };
        let key = match &self.key {
            Some(path) => keyfile::read(path)?,
            None => keyfile::owner(None)?,
        };
        let record = Revocation::sign(&key, cid.clone()).to_json();
        let body = json!({ "record": record, "reason": self.reason.trim() });
        let answer = client::runtime()?.block_on(async {
            let client = Client::connect(service, key).await?;
            client.post("/v1/revocations", &body).await
        })?;
        let accepted: Accepted = typed(answer.clone())?;
        if accepted.cid != cid.to_string() {
            bail!("the service answered about another CID");
        }
        match output {
            Output::Json => print_json(&json!({
                "cid": accepted.cid,
                "cursor": accepted.cursor,
                "already_revoked": accepted.cursor.is_none(),
            })),
            Output::Text => match accepted.cursor {
                Some(cursor) => {
                    println!("revoked {} (revocation feed cursor {cursor})", accepted.cid)
                }
                None => println!("{} was already revoked", accepted.cid),
            },
        }
        Ok(ExitCode::SUCCESS)
    }
}

enum Target {
    Cid(Cid),
    /// A container with more than one token: which one is meant?
    Several(Vec<Vec<u8>>),
}

/// What `arg` names: a CID, or the CID of the one token it holds.
fn target(arg: &str) -> anyhow::Result<Target> {
    let text = arg.trim();
    let is_file = arg != "-" && Path::new(arg).is_file();
    if !is_file {
        if let Ok(cid) = text.parse::<Cid>() {
            return Ok(Target::Cid(cid));
        }
        let cid_like = text.starts_with("bafy") || text.starts_with('z');
        if cid_like && text.len() <= 120 && !text.contains(char::is_whitespace) {
            bail!("{text:?} is not a valid CID");
        }
    }
    let mut tokens = input::tokens(arg)?;
    match tokens.len() {
        1 => Ok(Target::Cid(Cid::dag_cbor(&tokens.remove(0)))),
        _ => Ok(Target::Several(tokens)),
    }
}

/// A token's CID and what it delegates or invokes, for choosing among a container's.
fn describe(bytes: &[u8]) -> Json {
    let cid = Cid::dag_cbor(bytes).to_string();
    let Ok(envelope) = Envelope::open(bytes) else {
        return json!({ "cid": cid, "kind": "unreadable" });
    };
    let fields = match envelope.kind {
        TokenKind::Delegation => {
            Delegation::from_payload(envelope.payload.clone(), &PolicyLimits::default())
                .ok()
                .map(|d| {
                    json!({
                        "iss": d.issuer.to_string(),
                        "aud": d.audience.to_string(),
                        "cmd": d.command.as_str(),
                        "exp": d.expiration,
                    })
                })
        }
        TokenKind::Invocation => Invocation::from_payload(envelope.payload.clone())
            .ok()
            .map(|i| {
                json!({
                    "iss": i.issuer.to_string(),
                    "aud": i.audience.map(|a| a.to_string()),
                    "cmd": i.command.as_str(),
                    "exp": i.expiration,
                })
            }),
    };
    let mut out = fields.unwrap_or_else(|| json!({}));
    out["cid"] = json!(cid);
    out["kind"] = json!(envelope.kind.to_string());
    out
}

fn token_line(token: &Json) -> String {
    let text = |field: &str| token[field].as_str().map(clean).unwrap_or_default();
    format!(
        "{}  {} {} from {} to {}",
        text("cid"),
        text("kind"),
        text("cmd"),
        short_did(&text("iss")),
        short_did(&text("aud")),
    )
}
