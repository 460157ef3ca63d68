//! The HTTP adapter: a method and URL template, a JSON or form body mapped from the args,
//! the credential injected as a header, the invocation CID as `Idempotency-Key`, a
//! timeout and a cap on the response read.

use std::fmt;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use countersign_core::Map;
use data_encoding::BASE64;
use serde_json::Value as Json;
use zeroize::Zeroizing;

use super::{Upstream, body};
use crate::config::{BodyFormat, HttpAuth, HttpConfig, Method};
use crate::error::Kind;
use crate::store::Outcome;

/// A request built from the args; the credential is added only when it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub url: String,
    /// Content type and bytes.
    pub body: Option<(&'static str, Vec<u8>)>,
}

pub struct HttpAdapter {
    config: HttpConfig,
    client: reqwest::Client,
    headers: HeaderMap,
}

impl fmt::Debug for HttpAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpAdapter")
            .field("method", &self.config.method)
            .field("url", &self.config.url.as_str())
            .finish_non_exhaustive()
    }
}

impl HttpAdapter {
    pub fn new(config: HttpConfig) -> anyhow::Result<HttpAdapter> {
        let mut headers = HeaderMap::new();
        for (name, value) in &config.headers {
            headers.insert(
                HeaderName::from_bytes(name.as_bytes())?,
                HeaderValue::from_str(value)?,
            );
        }
        if let Some((name, value)) = credential(config.auth.as_ref())? {
            headers.insert(name, value);
        }
        let timeout = Duration::from_secs(config.timeout.0);
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            // A redirect would re-send the request elsewhere; the route says where it goes.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(HttpAdapter {
            config,
            client,
            headers,
        })
    }

    pub fn prepare(&self, args: &Map) -> Result<HttpRequest, String> {
        let mut url = self.config.url.render(args)?;
        if !self.config.query.is_empty() {
            let query = body::fields(&self.config.query, args)?;
            let pairs = body::form_pairs(&query);
            if !pairs.is_empty() {
                url.push(if url.contains('?') { '&' } else { '?' });
                url.push_str(&body::encode_form(&pairs));
            }
        }
        let body = match self.config.body {
            BodyFormat::None => None,
            BodyFormat::Json => {
                let object = body::fields(&self.config.fields, args)?;
                let bytes = serde_json::to_vec(&object).map_err(|e| e.to_string())?;
                Some(("application/json", bytes))
            }
            BodyFormat::Form => {
                let object = body::fields(&self.config.fields, args)?;
                let text = body::encode_form(&body::form_pairs(&object));
                Some(("application/x-www-form-urlencoded", text.into_bytes()))
            }
        };
        Ok(HttpRequest { url, body })
    }

    pub async fn call(&self, request: HttpRequest, idempotency_key: &str) -> Upstream {
        let method = match self.config.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
        };
        let mut builder = self
            .client
            .request(method, &request.url)
            .headers(self.headers.clone())
            .header("idempotency-key", idempotency_key);
        if let Some((content_type, bytes)) = request.body {
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(bytes);
        }
        let response = match builder.send().await {
            Ok(r) => r,
            Err(e) => return self.transport_failure(&e),
        };
        let status = response.status().as_u16();
        let json = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| {
                let ct = ct.split(';').next().unwrap_or("").trim();
                ct == "application/json" || ct.ends_with("+json")
            });
        let (bytes, truncated) = match read_capped(response, self.config.max_response_bytes).await {
            Ok(read) => read,
            Err(e) => return self.transport_failure(&e),
        };
        let body = if json && !truncated {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Json::String(String::from_utf8_lossy(&bytes).into_owned()))
        } else if bytes.is_empty() {
            Json::Null
        } else {
            Json::String(String::from_utf8_lossy(&bytes).into_owned())
        };
        let outcome = if (200..300).contains(&status) {
            Outcome::Ok
        } else {
            Outcome::UpstreamError
        };
        Upstream {
            outcome,
            status,
            body,
            truncated,
            failure: None,
        }
    }

    fn transport_failure(&self, e: &reqwest::Error) -> Upstream {
        // reqwest's message names the URL (never a header), so it can be logged.
        tracing::warn!(error = %e, route_url = self.config.url.as_str(), "upstream request failed");
        if e.is_connect() {
            Upstream::failed(
                Outcome::UpstreamError,
                Kind::UpstreamUnavailable,
                "could not connect to the upstream; nothing was sent",
            )
        } else if e.is_timeout() {
            Upstream::failed(
                Outcome::Unknown,
                Kind::UpstreamTimeout,
                format!(
                    "the upstream did not answer within {}; whether it acted is unknown",
                    self.config.timeout
                ),
            )
        } else {
            Upstream::failed(
                Outcome::Unknown,
                Kind::UpstreamUnavailable,
                "the upstream connection failed; whether it acted is unknown",
            )
        }
    }
}

/// The credential header a route's `auth` describes, marked sensitive.
fn credential(auth: Option<&HttpAuth>) -> anyhow::Result<Option<(HeaderName, HeaderValue)>> {
    let (name, value) = match auth {
        None => return Ok(None),
        Some(HttpAuth::Bearer(source)) => {
            let secret = source.resolve().map_err(anyhow::Error::msg)?;
            let value = Zeroizing::new(format!("Bearer {}", secret.expose()));
            (reqwest::header::AUTHORIZATION, header_value(&value)?)
        }
        Some(HttpAuth::Basic { username, password }) => {
            let secret = password.resolve().map_err(anyhow::Error::msg)?;
            let pair = Zeroizing::new(format!("{username}:{}", secret.expose()));
            let value = Zeroizing::new(format!("Basic {}", BASE64.encode(pair.as_bytes())));
            (reqwest::header::AUTHORIZATION, header_value(&value)?)
        }
        Some(HttpAuth::Header {
            name,
            value,
            prefix,
        }) => {
            let secret = value.resolve().map_err(anyhow::Error::msg)?;
            let text = Zeroizing::new(format!("{prefix}{}", secret.expose()));
            (
                HeaderName::from_bytes(name.as_bytes())?,
                header_value(&text)?,
            )
        }
    };
    Ok(Some((name, value)))
}

fn header_value(text: &str) -> anyhow::Result<HeaderValue> {
    let mut value = HeaderValue::from_str(text)
        .map_err(|_| anyhow::anyhow!("the credential holds characters a header cannot carry"))?;
    value.set_sensitive(true);
    Ok(value)
}

/// Reads at most `cap` bytes of the body; says whether there was more.
async fn read_capped(
    mut response: reqwest::Response,
    cap: usize,
) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let mut out = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = cap - out.len();
        if chunk.len() > room {
            out.extend_from_slice(&chunk[..room]);
            return Ok((out, true));
        }
        out.extend_from_slice(&chunk);
    }
    Ok((out, false))
}
