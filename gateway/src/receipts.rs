//! Receipts: a signed statement to the service of what the gateway did with each valid
//! invocation, delivered from the durable queue with retries until the service takes it.
//!
//! `POST {service}/v1/receipts` with `{"receipt": "<JWT>"}`, EdDSA-signed by the gateway
//! key: `iss` = the gateway's DID, `aud` = the service's, `iat`, `exp` (+5 minutes), a
//! random `jti`, and `receipts`: up to 256 of them, oldest first, each with `invocation`
//! (CID), `route` (command), `outcome` (`ok`, `upstream_error`, `unknown` or `refused`),
//! `status` (upstream status or 0), `at`, and for a refusal `error` (its kind). One
//! signature and one request carry a whole batch; the service records each receipt once,
//! whichever token it arrives in, so a batch retried after a lost answer is harmless.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use countersign_core::{Did, Keypair};
use countersign_server::clock::Clock;
use data_encoding::{BASE64URL_NOPAD, HEXLOWER};
use serde::{Deserialize, Serialize};

use crate::store::{ATTEMPT, Pending, Store};

/// base64url of `{"typ":"JWT","alg":"EdDSA"}`, the header of every receipt token.
const JWT_HEADER: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJFZERTQSJ9";

/// How long a receipt token is valid.
pub const RECEIPT_LIFETIME: i64 = 300;
/// Receipts per token (the service's limit).
const BATCH: i64 = 256;

/// The claims of a receipt token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReceiptToken {
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub receipts: Vec<Receipt>,
}

/// What the gateway did with one invocation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Receipt {
    pub invocation: String,
    pub route: String,
    pub outcome: String,
    pub status: i64,
    pub at: i64,
    /// The kind of a refusal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl From<&Pending> for Receipt {
    fn from(p: &Pending) -> Self {
        Receipt {
            invocation: p.invocation.clone(),
            route: p.route.clone(),
            outcome: p.outcome.clone(),
            status: p.status,
            at: p.at,
            error: (p.kind != ATTEMPT).then(|| p.kind.clone()),
        }
    }
}

/// Timing of delivery.
#[derive(Clone, Debug)]
pub struct DeliverySettings {
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    pub request_timeout: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        DeliverySettings {
            min_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// Delivers queued receipts.
#[derive(Debug, Clone)]
pub struct Courier {
    pub http: reqwest::Client,
    /// The service's base URL, without a trailing `/`.
    pub base: String,
    /// The service's DID, if configured; otherwise asked of `GET /v1/service`.
    pub service: Option<Did>,
    pub key: Keypair,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub settings: DeliverySettings,
}

impl Courier {
    /// Delivers until the task is dropped: whenever receipts are queued, and again after
    /// a backoff while any delivery fails.
    pub async fn run(mut self) {
        let mut backoff = self.settings.min_backoff;
        // Receipts per token: halved while the service finds a token too large (a body
        // limit set lower than a full batch needs), grown back after each delivery.
        let mut batch = BATCH;
        loop {
            let result = self.round(&mut batch).await;
            match result {
                Ok(true) => {
                    backoff = self.settings.min_backoff;
                    continue;
                }
                Ok(false) => {
                    backoff = self.settings.min_backoff;
                    self.store.receipts_ready().notified().await;
                }
                Err(e) => {
                    tracing::warn!(
                        error = format!("{e:#}"),
                        retry_in_ms = backoff.as_millis() as u64,
                        "receipt delivery failed"
                    );
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = self.store.receipts_ready().notified() => {}
                    }
                    backoff = (backoff * 2).min(self.settings.max_backoff);
                }
            }
        }
    }

    /// Delivers one batch of at most `batch` receipts. `Ok(true)`: there may be more;
    /// `Ok(false)`: the queue is empty.
    async fn round(&mut self, batch: &mut i64) -> anyhow::Result<bool> {
        let pending = self.store.pending(*batch).await?;
        if pending.is_empty() {
            return Ok(false);
        }
        let service = match self.service {
            Some(did) => did,
            None => {
                let did = self.ask_service_did().await?;
                self.service = Some(did);
                did
            }
        };
        let full = pending.len() as i64 == *batch;
        let token = self.sign(&pending, &service)?;
        let response = self
            .http
            .post(format!("{}/v1/receipts", self.base))
            .timeout(self.settings.request_timeout)
            .json(&serde_json::json!({ "receipt": token }))
            .send()
            .await
            .context("POST /v1/receipts")?;
        let status = response.status();
        if status == reqwest::StatusCode::PAYLOAD_TOO_LARGE && *batch > 1 {
            *batch = (*batch / 2).max(1);
            bail!("POST /v1/receipts answered {status}; next time {batch} receipts a token");
        }
        if !status.is_success() {
            bail!("POST /v1/receipts answered {status}");
        }
        *batch = (*batch * 2).min(BATCH);
        self.store
            .delivered(pending.iter().map(|p| p.id).collect())
            .await?;
        Ok(full)
    }

    /// The receipts as one EdDSA JWT (RFC 7519 with RFC 8037's Ed25519), signed with the
    /// gateway key directly: what `jsonwebtoken` would produce, without re-reading the
    /// key from DER for every token.
    fn sign(&self, pending: &[Pending], service: &Did) -> anyhow::Result<String> {
        let now = self.clock.now();
        let mut jti = [0u8; 16];
        getrandom::getrandom(&mut jti).context("the operating system gave no randomness")?;
        let claims = ReceiptToken {
            iss: self.key.did().to_string(),
            aud: service.to_string(),
            iat: now,
            exp: now + RECEIPT_LIFETIME,
            jti: HEXLOWER.encode(&jti),
            receipts: pending.iter().map(Receipt::from).collect(),
        };
        let mut token = String::from(JWT_HEADER);
        token.push('.');
        BASE64URL_NOPAD.encode_append(&serde_json::to_vec(&claims)?, &mut token);
        let signature = self.key.sign(token.as_bytes());
        token.push('.');
        BASE64URL_NOPAD.encode_append(&signature, &mut token);
        Ok(token)
    }

    async fn ask_service_did(&self) -> anyhow::Result<Did> {
        #[derive(Deserialize)]
        struct Info {
            did: String,
        }
        let info: Info = self
            .http
            .get(format!("{}/v1/service", self.base))
            .timeout(self.settings.request_timeout)
            .send()
            .await
            .context("GET /v1/service")?
            .error_for_status()?
            .json()
            .await?;
        Ok(info.did.parse()?)
    }
}
