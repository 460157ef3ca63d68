//! The optional channels: an ntfy topic, and a JSON webhook signed with HMAC-SHA256 the
//! way Stripe signs its events. Their secrets come from the environment or a file.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::http::{self, Attempt};
use super::message::Facts;

/// A secret value whose `Debug` shows nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(zeroize::Zeroizing<String>);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(zeroize::Zeroizing::new(value.into()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(****)")
    }
}

/// Reads a secret from the environment variable `var`, else from `file` (trimmed).
pub fn secret_from(var: &str, file: &str) -> anyhow::Result<Option<Secret>> {
    if let Ok(value) = std::env::var(var) {
        if !value.trim().is_empty() {
            return Ok(Some(Secret::new(value.trim())));
        }
    }
    if file.is_empty() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(file)
        .map_err(|e| anyhow::anyhow!("cannot read the secret file {file}: {e}"))?;
    Ok(Some(Secret::new(text.trim())).filter(|s| !s.expose().is_empty()))
}

/// ntfy as configured.
#[derive(Clone, Debug)]
pub struct Ntfy {
    /// The server's base URL, without a trailing slash.
    pub url: String,
    pub topic: String,
    pub token: Option<Secret>,
}

impl Ntfy {
    /// Publishes the pending message (JSON publishing: POST to the server's root).
    pub async fn send(&self, client: &reqwest::Client, facts: &Facts<'_>, now: i64) -> Attempt {
        let mut request = client
            .post(format!("{}/", self.url))
            .json(&facts.ntfy_body(&self.topic, now));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token.expose());
        }
        http::send(request, false, now).await
    }
}

/// The webhook as configured.
#[derive(Clone, Debug)]
pub struct Webhook {
    pub url: String,
    pub secret: Secret,
}

/// The signature header's name.
pub const SIGNATURE_HEADER: &str = "Countersign-Signature";

impl Webhook {
    /// Posts the event, signed at `now`. `event` (`<request id>.<kind>`) is the same on
    /// every attempt, for receivers that drop duplicates.
    pub async fn send(
        &self,
        client: &reqwest::Client,
        facts: &Facts<'_>,
        event: &str,
        now: i64,
    ) -> Attempt {
        let body = facts.webhook_body().to_string();
        let request = client
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header(SIGNATURE_HEADER, sign(&self.secret, now, body.as_bytes()))
            .header("Countersign-Event", event)
            .body(body);
        http::send(request, false, now).await
    }
}

/// `t=<unix>,v1=<hex HMAC-SHA256 of "<unix>.<body>">`.
pub fn sign(secret: &Secret, at: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length: this never returns early.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()) else {
        return String::new();
    };
    mac.update(at.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    format!("t={at},v1={}", data_encoding::HEXLOWER.encode(&digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_the_documented_scheme() {
        // HMAC-SHA256(key "whsec", "1700000000.{}"), computed with Python's hmac module.
        let s = sign(&Secret::new("whsec"), 1_700_000_000, b"{}");
        assert_eq!(
            s,
            "t=1700000000,v1=7d44587dddbaf4c7f70fef20f48cd594834ffea1641e3ac227b84408298738af"
        );
        assert_ne!(s, sign(&Secret::new("whsec"), 1_700_000_001, b"{}"));
        assert_eq!(format!("{:?}", Secret::new("whsec")), "Secret(****)");
    }
}
