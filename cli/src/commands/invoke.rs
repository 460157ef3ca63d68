//! `countersign invoke`: sign an invocation and print it with its proof chain, or send it
//! to a gateway and print the gateway's answer.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use clap::Args;
use countersign_core::container::Container;
use countersign_core::envelope::{Envelope, TokenKind};
use countersign_core::validate::{Limits, TokenRef, Validator};
use countersign_core::{Cid, Command, Delegation, Did, InvocationBuilder};
use countersign_server::duration;
use serde_json::{Value as Json, json};

use super::delegate::parse_map;
use crate::client;
use crate::output::{Output, clean, print_json};
use crate::{input, keyfile, system};

/// How long the gateway may take to answer, the upstream call included (the gateway's
/// own `limits.request_timeout` defaults to 60 s).
const GATEWAY_TIMEOUT: Duration = Duration::from_secs(120);

/// Exit status when the gateway refused the invocation or the upstream call failed.
const NOT_DONE: u8 = 1;

#[derive(Debug, Args)]
pub struct InvokeArgs {
    /// The invoker's key file (PKCS#8 PEM).
    #[arg(long, required_unless_present = "signed")]
    key: Option<PathBuf>,
    /// The executor the invocation is addressed to.
    #[arg(long, required_unless_present = "signed")]
    to: Option<Did>,
    /// The command to run, e.g. /email/send.
    #[arg(long, required_unless_present = "signed")]
    cmd: Option<Command>,
    /// The arguments, as a JSON object.
    #[arg(long, default_value = "{}")]
    args: String,
    /// Delegations (tokens or containers) proving the invoker's authority, in any order.
    #[arg(long, num_args = 1..)]
    proof: Vec<String>,
    /// The subject acted on (default: the subject of the root proof, or the invoker).
    #[arg(long)]
    subject: Option<Did>,
    /// Lifetime from now, e.g. 30s, 5m (default 5m).
    #[arg(long, default_value = "5m")]
    expires_in: String,
    /// Send the invocation to this gateway (`POST URL/v1/invoke`) and print its answer
    /// instead of the container.
    #[arg(long, value_name = "URL")]
    gateway: Option<String>,
    /// An invocation container already signed by `countersign invoke`, sent as it is
    /// (with --gateway) instead of signing a new one.
    #[arg(
        long,
        value_name = "CONTAINER",
        requires = "gateway",
        conflicts_with_all = ["key", "to", "cmd", "args", "proof", "subject", "expires_in"]
    )]
    signed: Option<String>,
}

impl InvokeArgs {
    pub fn run(self, output: Output) -> anyhow::Result<ExitCode> {
        let (cid, text) = match &self.signed {
            Some(signed) => read_signed(signed)?,
            None => self.sign()?,
        };
        let Some(gateway) = &self.gateway else {
            match output {
                Output::Text => println!("{text}"),
                Output::Json => print_json(&json!({
                    "cid": cid.to_string(),
                    "container": text,
                })),
            }
            return Ok(ExitCode::SUCCESS);
        };
        let (status, answer) = client::runtime()?.block_on(send(gateway, &cid, &text))?;
        let shown = Shown::of(&answer).with_context(|| {
            format!("the gateway answered HTTP {status} in an unexpected shape")
        })?;
        match output {
            Output::Text => {
                for line in &shown.lines {
                    println!("{line}");
                }
            }
            Output::Json => print_json(&json!({
                "cid": cid.to_string(),
                "container": text,
                "status": status,
                "answer": answer,
            })),
        }
        match shown.error {
            None => Ok(ExitCode::SUCCESS),
            Some(error) => {
                eprintln!("error: {error}");
                Ok(ExitCode::from(NOT_DONE))
            }
        }
    }

    /// Signs the invocation: its CID and the container with its proofs.
    fn sign(&self) -> anyhow::Result<(Cid, String)> {
        let (Some(key), Some(to), Some(cmd)) = (&self.key, &self.to, &self.cmd) else {
            bail!("give --key, --to and --cmd, or --signed");
        };
        let key = keyfile::read(key)?;
        let args = parse_map(&self.args, "--args")?;
        let lifetime = duration::parse(&self.expires_in).map_err(anyhow::Error::msg)?;
        let candidates = read_delegations(&self.proof)?;
        let chain = select_chain(key.did(), cmd, self.subject, &candidates)?;
        let subject = match (self.subject, chain.first()) {
            (Some(s), _) => s,
            (None, Some(&root)) => candidates[root].1.subject.unwrap_or(key.did()),
            (None, None) => key.did(),
        };
        let now = system::now();
        let signed = InvocationBuilder::new(subject, cmd.clone(), args)
            .audience(*to)
            .proofs(chain.iter().map(|&i| candidates[i].0.clone()).collect())
            .expiration(Some(now.saturating_add(lifetime)))
            .issued_at(now)
            .sign(&key, &mut system::nonces()?);
        let mut tokens = vec![signed.bytes];
        tokens.extend(chain.iter().map(|&i| candidates[i].2.clone()));
        Ok((signed.cid, Container::new(tokens).to_text()))
    }
}

/// A container signed earlier: the CID of its one invocation, and the container as sent.
fn read_signed(arg: &str) -> anyhow::Result<(Cid, String)> {
    let tokens = input::tokens(arg).context("--signed")?;
    let mut invocations = tokens
        .iter()
        .filter(|t| Envelope::open(t).is_ok_and(|e| e.kind == TokenKind::Invocation));
    let (Some(invocation), None) = (invocations.next(), invocations.next()) else {
        bail!("--signed: give a container holding exactly one invocation");
    };
    let cid = Cid::dag_cbor(invocation);
    Ok((cid, Container::new(tokens).to_text()))
}

/// Posts the container to the gateway: the HTTP status and the JSON answer.
async fn send(gateway: &str, cid: &Cid, container: &str) -> anyhow::Result<(u16, Json)> {
    let base = client::base_url(gateway, "--gateway")?;
    let response = client::http_client()?
        .post(format!("{base}/v1/invoke"))
        .header(reqwest::header::CONTENT_TYPE, "text/plain")
        .body(container.to_owned())
        .timeout(GATEWAY_TIMEOUT)
        .send()
        .await
        .map_err(|e| lost(&base, cid, container, &e))?;
    let status = response.status().as_u16();
    let body = client::read_body("gateway", &base, response).await?;
    let answer = serde_json::from_slice(&body)
        .map_err(|_| anyhow!("the gateway at {base} answered HTTP {status}, not with JSON"))?;
    Ok((status, answer))
}

/// A failed call; after a timeout the gateway may have run the invocation, and the
/// message carries the container, so that it can be sent again (at most once it runs).
fn lost(base: &str, cid: &Cid, container: &str, err: &reqwest::Error) -> anyhow::Error {
    if err.is_timeout() {
        return anyhow!(
            "the gateway at {base} did not answer in time; invocation {cid} may have run \
             (sending it again is refused if it did): --signed {container}"
        );
    }
    client::unreachable("gateway", base, err)
}

/// The gateway's answer for people: lines for standard output, and the error, if the
/// invocation was refused or did not succeed upstream.
#[derive(Debug, PartialEq, Eq)]
struct Shown {
    lines: Vec<String>,
    error: Option<String>,
}

impl Shown {
    /// `None` when the answer is none of the gateway's shapes.
    fn of(answer: &Json) -> Option<Shown> {
        let text = |v: &Json| v.as_str().map(clean);
        let error = answer.get("error").and_then(|e| {
            Some(format!(
                "{} ({})",
                text(e.get("message")?)?,
                text(e.get("kind")?)?
            ))
        });
        let Some(invocation) = answer.get("invocation").and_then(text) else {
            // Refused before anything ran.
            return Some(Shown {
                lines: Vec::new(),
                error: Some(format!("the gateway refused: {}", error?)),
            });
        };
        let route = answer.get("route").and_then(text)?;
        let ok = answer.get("ok")?.as_bool()?;
        let Some(upstream) = answer.get("upstream") else {
            // Sent, and the upstream could not be reached or did not answer in time.
            let error = error?;
            return Some(Shown {
                lines: vec![
                    format!("failed: {route}"),
                    format!("invocation {invocation}"),
                ],
                error: Some(format!("{route}: {error}; the invocation is spent")),
            });
        };
        let status = upstream.get("status")?.as_u64()?;
        let mut lines = vec![
            format!(
                "{}: {route} (upstream status {status})",
                if ok { "done" } else { "failed" }
            ),
            format!("invocation {invocation}"),
        ];
        let body = match upstream.get("body") {
            None | Some(Json::Null) => None,
            Some(Json::String(s)) => Some(clean(s)),
            Some(other) => Some(clean(&other.to_string())),
        };
        if let Some(body) = body {
            let cut = if upstream.get("truncated") == Some(&Json::Bool(true)) {
                " (truncated)"
            } else {
                ""
            };
            lines.push(format!("upstream: {body}{cut}"));
        }
        let error = (!ok).then(|| {
            format!("{route}: the upstream answered status {status}; the invocation is spent")
        });
        Some(Shown { lines, error })
    }
}

type Candidate = (Cid, Delegation, Vec<u8>);

fn read_delegations(args: &[String]) -> anyhow::Result<Vec<Candidate>> {
    let validator = Validator::new(Limits::default(), 0);
    input::all_tokens(args)?
        .into_iter()
        .map(|bytes| {
            let cid = Cid::dag_cbor(&bytes);
            let delegation = validator
                .open_delegation(&TokenRef::Proof(0, cid.clone()), &bytes)
                .with_context(|| format!("proof {cid}"))?;
            Ok((cid, delegation, bytes))
        })
        .collect()
}

/// Orders the proofs root first: from the invoker, follow delegations up by audience
/// until one is issued by its own subject.
fn select_chain(
    invoker: Did,
    cmd: &Command,
    subject: Option<Did>,
    candidates: &[Candidate],
) -> anyhow::Result<Vec<usize>> {
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let mut chain = Vec::new();
    let mut holder = invoker;
    while chain.len() < candidates.len() {
        let next = candidates.iter().enumerate().find(|(i, (_, d, _))| {
            !chain.contains(i)
                && d.audience == holder
                && d.command.proves(cmd)
                && (subject.is_none() || d.subject.is_none() || d.subject == subject)
        });
        let Some((i, (_, d, _))) = next else { break };
        chain.push(i);
        if d.subject == Some(d.issuer) {
            chain.reverse();
            return Ok(chain);
        }
        holder = d.issuer;
    }
    if chain.is_empty() {
        bail!("none of the proofs delegates {cmd} to {invoker}");
    }
    bail!("the proofs do not reach a delegation issued by its subject; add the missing ones")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(answer: Json) -> Shown {
        Shown::of(&answer).unwrap_or_else(|| panic!("not understood: {answer}"))
    }

    #[test]
    fn a_success_shows_the_route_the_invocation_and_the_upstream_answer() {
        let got = shown(json!({
            "ok": true, "invocation": "bafyA", "route": "/email/send",
            "upstream": {"status": 250, "body": {"message": "accepted"}, "truncated": false},
        }));
        assert_eq!(
            got.lines,
            [
                "done: /email/send (upstream status 250)",
                "invocation bafyA",
                r#"upstream: {"message":"accepted"}"#,
            ]
        );
        assert_eq!(got.error, None);
    }

    #[test]
    fn an_upstream_error_is_shown_and_is_an_error() {
        let got = shown(json!({
            "ok": false, "invocation": "bafyA", "route": "/payment/refund",
            "upstream": {"status": 402, "body": "no\nfunds", "truncated": true},
        }));
        assert_eq!(
            got.lines[0],
            "failed: /payment/refund (upstream status 402)"
        );
        assert_eq!(got.lines[2], "upstream: no funds (truncated)");
        assert!(got.error.unwrap().contains("status 402"));

        let got = shown(json!({
            "ok": false, "invocation": "bafyA", "route": "/payment/refund",
            "error": {"kind": "UpstreamTimeout", "message": "no answer in 10s"},
        }));
        assert_eq!(got.lines, ["failed: /payment/refund", "invocation bafyA"]);
        assert_eq!(
            got.error.unwrap(),
            "/payment/refund: no answer in 10s (UpstreamTimeout); the invocation is spent"
        );
    }

    #[test]
    fn a_refusal_is_its_message_and_kind_on_one_line() {
        let got = shown(json!({"error": {"kind": "Replayed", "message": "seen\u{202e} before"}}));
        assert!(got.lines.is_empty());
        assert_eq!(
            got.error.unwrap(),
            "the gateway refused: seen  before (Replayed)"
        );
        assert_eq!(Shown::of(&json!({"error": "no"})), None);
        assert_eq!(Shown::of(&json!({"ok": true})), None);
    }
}
