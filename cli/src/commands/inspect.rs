//! `countersign inspect`: show every token of a token or container, decoded.

use std::process::ExitCode;

use clap::Args;
use countersign_core::envelope::{Envelope, TokenKind};
use countersign_core::policy::PolicyLimits;
use countersign_core::{Cid, Delegation, Invocation, Value, json};
use serde_json::{Value as Json, json};

use crate::input;
use crate::output::{Output, date, print_json};

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A token (base64) or a container; `-` reads standard input.
    input: String,
}

impl InspectArgs {
    pub fn run(self, output: Output) -> anyhow::Result<ExitCode> {
        let tokens: Vec<Json> = input::tokens(&self.input)?
            .iter()
            .map(|t| describe(t))
            .collect();
        match output {
            Output::Json => print_json(&json!({ "tokens": tokens })),
            Output::Text => {
                for (i, token) in tokens.iter().enumerate() {
                    if i > 0 {
                        println!();
                    }
                    print_text(token);
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// Decodes one token into JSON: its fields, dates, CID and whether its signature holds.
fn describe(bytes: &[u8]) -> Json {
    let cid = Cid::dag_cbor(bytes).to_string();
    let envelope = match Envelope::open(bytes) {
        Ok(e) => e,
        Err(e) => return json!({ "cid": cid, "kind": "unreadable", "error": e.to_string() }),
    };
    let decoded = match envelope.kind {
        TokenKind::Delegation => {
            Delegation::from_payload(envelope.payload.clone(), &PolicyLimits::default())
                .map(|d| (d.issuer, delegation_fields(&d)))
                .map_err(|e| e.to_string())
        }
        TokenKind::Invocation => Invocation::from_payload(envelope.payload.clone())
            .map(|i| (i.issuer, invocation_fields(&i)))
            .map_err(|e| e.to_string()),
    };
    let mut out = match decoded {
        Ok((issuer, fields)) => {
            let mut out = fields;
            out["signature_valid"] = json!(envelope.verify(&issuer).is_ok());
            out
        }
        Err(e) => {
            json!({ "error": e, "payload": json::to_json(&Value::Map(envelope.payload.clone())) })
        }
    };
    out["cid"] = json!(cid);
    out["kind"] = json!(envelope.kind.to_string());
    out
}

fn time_fields(out: &mut Json, name: &str, t: Option<u64>) {
    out[name] = json!(t);
    out[format!("{name}_date")] = json!(t.map(date));
}

fn delegation_fields(d: &Delegation) -> Json {
    let mut out = json!({
        "iss": d.issuer.to_string(),
        "aud": d.audience.to_string(),
        "sub": d.subject.map(|s| s.to_string()),
        "cmd": d.command.as_str(),
        "pol": json::to_json(&d.policy.to_value()),
        "nonce": hex(&d.nonce),
        "meta": d.meta.as_ref().map(|m| json::to_json(&Value::Map(m.clone()))),
    });
    time_fields(&mut out, "nbf", d.not_before);
    time_fields(&mut out, "exp", d.expiration);
    out
}

fn invocation_fields(i: &Invocation) -> Json {
    let mut out = json!({
        "iss": i.issuer.to_string(),
        "sub": i.subject.to_string(),
        "aud": i.audience.map(|a| a.to_string()),
        "cmd": i.command.as_str(),
        "args": json::to_json(&Value::Map(i.args.clone())),
        "prf": i.proofs.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "nonce": hex(&i.nonce),
        "meta": i.meta.as_ref().map(|m| json::to_json(&Value::Map(m.clone()))),
        "cause": i.cause.as_ref().map(ToString::to_string),
    });
    time_fields(&mut out, "exp", i.expiration);
    time_fields(&mut out, "iat", i.issued_at);
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn print_text(token: &Json) {
    let kind = token["kind"].as_str().unwrap_or("token");
    println!("{kind} {}", token["cid"].as_str().unwrap_or("?"));
    if let Some(error) = token["error"].as_str() {
        println!("  error      {error}");
        return;
    }
    let line = |label: &str, value: String| println!("  {label:<10} {value}");
    let text = |v: &Json| match v {
        Json::String(s) => s.clone(),
        Json::Null => "—".to_owned(),
        other => other.to_string(),
    };
    line("issuer", text(&token["iss"]));
    line("audience", text(&token["aud"]));
    let subject = match (&token["sub"], kind) {
        (Json::Null, "delegation") => "any (powerline)".to_owned(),
        (v, _) => text(v),
    };
    line("subject", subject);
    line("command", text(&token["cmd"]));
    if kind == "delegation" {
        line("policy", text(&token["pol"]));
        line("not before", when(token, "nbf", "—"));
    } else {
        line("args", text(&token["args"]));
        let proofs = token["prf"].as_array().map_or(0, Vec::len);
        line("proofs", format!("{proofs}"));
        line("issued at", when(token, "iat", "—"));
    }
    line("expires", when(token, "exp", "never"));
    line("nonce", text(&token["nonce"]));
    if !token["meta"].is_null() {
        line("meta", text(&token["meta"]));
    }
    let signature = if token["signature_valid"] == json!(true) {
        "valid"
    } else {
        "INVALID"
    };
    line("signature", signature.to_owned());
}

fn when(token: &Json, field: &str, none: &str) -> String {
    match (
        token[field].as_u64(),
        token[format!("{field}_date")].as_str(),
    ) {
        (Some(t), Some(d)) => format!("{d} ({t})"),
        _ => none.to_owned(),
    }
}
