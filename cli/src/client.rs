//! The approval service's HTTP API as the CLI calls it. Every call carries a fresh,
//! short-lived JWT signed by the caller's key, with its own random id (the service
//! refuses a token it has already seen).

use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use countersign_core::{Did, Keypair};
use countersign_server::auth::jwt;
use data_encoding::HEXLOWER;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value as Json;

use crate::output::clean;
use crate::system;

/// Most bytes read from one response.
const MAX_RESPONSE: usize = 4 * 1024 * 1024;
/// Lifetime of the token signed for one call.
const TOKEN_LIFETIME: i64 = 60;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an ordinary call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A runtime for one command's network I/O; the rest of the CLI is synchronous.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// What `GET /v1/service` says about the service.
#[derive(Debug, Clone, Deserialize)]
struct ServiceInfo {
    did: String,
    owner: String,
}

/// The service's answer to a call it refused: `{"error": {"code", "message"}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the service refused: {} ({})", self.message, self.code)
    }
}

impl std::error::Error for Refused {}

/// The service's refusal behind `err`, if that is what it is.
pub fn refusal(err: &anyhow::Error) -> Option<&Refused> {
    err.downcast_ref::<Refused>()
}

/// A connection to the service, as the holder of one key.
#[derive(Debug)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    key: Keypair,
    /// The service's DID: the audience of every token and approval.
    pub service: Did,
    /// The owner's DID: the subject of every capability.
    pub owner: Did,
}

impl Client {
    /// Asks the service who it is; every later call is signed by `key` for that DID.
    pub async fn connect(base: &str, key: Keypair) -> anyhow::Result<Client> {
        let base = base_url(base, "--service")?;
        let http = http_client()?;
        let request = http.get(format!("{base}/v1/service")).timeout(CALL_TIMEOUT);
        let info: ServiceInfo = typed(answer(&base, request).await?)
            .context("the service's description (/v1/service)")?;
        let did = |text: &str, what: &str| -> anyhow::Result<Did> {
            text.parse()
                .with_context(|| format!("the service gave an invalid {what} DID"))
        };
        Ok(Client {
            service: did(&info.did, "service")?,
            owner: did(&info.owner, "owner")?,
            http,
            base,
            key,
        })
    }

    /// The DID of the key this client signs with.
    pub fn did(&self) -> Did {
        self.key.did()
    }

    pub fn key(&self) -> &Keypair {
        &self.key
    }

    /// The same service, as the holder of another key: the connection pool is shared and
    /// the service is not asked again who it is.
    pub fn with_key(&self, key: Keypair) -> Client {
        Client {
            http: self.http.clone(),
            base: self.base.clone(),
            key,
            service: self.service,
            owner: self.owner,
        }
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Json> {
        self.call(reqwest::Method::GET, path, None, CALL_TIMEOUT)
            .await
    }

    /// A `GET` the service may hold open up to `wait` (a long-poll).
    pub async fn get_long(&self, path: &str, wait: Duration) -> anyhow::Result<Json> {
        self.call(reqwest::Method::GET, path, None, wait + CALL_TIMEOUT)
            .await
    }

    pub async fn post(&self, path: &str, body: &Json) -> anyhow::Result<Json> {
        self.call(reqwest::Method::POST, path, Some(body), CALL_TIMEOUT)
            .await
    }

    pub async fn delete(&self, path: &str) -> anyhow::Result<Json> {
        self.call(reqwest::Method::DELETE, path, None, CALL_TIMEOUT)
            .await
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Json>,
        timeout: Duration,
    ) -> anyhow::Result<Json> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(self.token()?)
            .timeout(timeout);
        if let Some(body) = body {
            request = request.json(body);
        }
        answer(&self.base, request).await
    }

    /// A fresh token for one call.
    fn token(&self) -> anyhow::Result<String> {
        let now = i64::try_from(system::now()).unwrap_or(i64::MAX);
        let jti = HEXLOWER.encode(&system::random::<16>()?);
        jwt::issue(&self.key, &self.service, now, TOKEN_LIFETIME, jti)
            .context("cannot sign the authentication token")
    }
}

/// Sends a request and reads its answer: JSON on success (`null` for an empty body), a
/// [`Refused`] error when the service says no.
async fn answer(base: &str, request: reqwest::RequestBuilder) -> anyhow::Result<Json> {
    let response = request
        .send()
        .await
        .map_err(|e| unreachable("service", base, &e))?;
    let status = response.status();
    let body = read_body("service", base, response).await?;
    if status.is_success() {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Json::Null);
        }
        return serde_json::from_slice(&body).context("the service's answer is not JSON");
    }
    #[derive(Deserialize)]
    struct ErrorBody {
        error: ErrorDetail,
    }
    #[derive(Deserialize)]
    struct ErrorDetail {
        code: String,
        message: String,
    }
    match serde_json::from_slice::<ErrorBody>(&body) {
        Ok(ErrorBody { error }) => Err(Refused {
            status: status.as_u16(),
            code: clean(&error.code),
            message: clean(&error.message),
        }
        .into()),
        Err(_) => Err(anyhow!("the service answered HTTP {status}")),
    }
}

/// The HTTP client for the service and gateways: a bounded connect, no redirects.
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("countersign/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("cannot set up the HTTP client")
}

/// `text`, given as `flag`, checked as an http(s) base URL; without a trailing slash.
pub fn base_url(text: &str, flag: &str) -> anyhow::Result<String> {
    let url = reqwest::Url::parse(text).with_context(|| format!("{flag} {text:?}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        bail!("{flag} {text:?}: give an http:// or https:// URL");
    }
    Ok(text.trim_end_matches('/').to_owned())
}

/// A response's body, at most [`MAX_RESPONSE`] bytes; `peer` ("service", "gateway")
/// names who answered in errors.
pub async fn read_body(
    peer: &str,
    base: &str,
    mut response: reqwest::Response,
) -> anyhow::Result<Vec<u8>> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| unreachable(peer, base, &e))?
    {
        if body.len() + chunk.len() > MAX_RESPONSE {
            bail!(
                "the {peer}'s answer is larger than {} MiB",
                MAX_RESPONSE / 1024 / 1024
            );
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A transport failure, on one line: where, and the innermost cause.
pub fn unreachable(peer: &str, base: &str, err: &reqwest::Error) -> anyhow::Error {
    if err.is_timeout() {
        return anyhow!("the {peer} at {base} did not answer in time");
    }
    let mut cause: &dyn std::error::Error = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    anyhow!("cannot reach the {peer} at {base}: {cause}")
}

/// Reads an answer as `T`.
pub fn typed<T: DeserializeOwned>(value: Json) -> anyhow::Result<T> {
    serde_json::from_value(value).context("the service's answer has an unexpected shape")
}

/// `text` if it is safe as one path segment (ids and names are `[A-Za-z0-9._-]`).
pub fn segment<'a>(text: &'a str, what: &str) -> anyhow::Result<&'a str> {
    let ok = !text.is_empty()
        && text.len() <= 128
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !text.chars().all(|c| c == '.');
    if ok {
        Ok(text)
    } else {
        bail!("{text:?} is not a valid {what}")
    }
}
