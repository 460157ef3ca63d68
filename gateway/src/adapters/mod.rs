//! Upstream adapters. Each route has one: it turns the args into a request without any
//! I/O ([`Adapter::prepare`], part of the checks), then performs it with the credential
//! it holds ([`Adapter::call`]).

pub mod body;
mod http;
mod smtp;

use std::collections::BTreeSet;

use countersign_core::{Map, Value};
use serde_json::Value as Json;

pub use http::{HttpAdapter, HttpRequest};
pub use smtp::{EmailRequest, SmtpAdapter};

use crate::config::RouteConfig;
use crate::error::{ApiError, Kind};
use crate::store::Outcome;

/// A route's adapter, with its credentials resolved.
#[derive(Debug)]
pub enum Adapter {
    Http(HttpAdapter),
    Smtp(SmtpAdapter),
    /// Answers success without any I/O.
    Noop,
}

/// An upstream request built from the args, ready to send.
#[derive(Debug)]
pub enum Prepared {
    Http(HttpRequest),
    Email(Box<EmailRequest>),
    Noop,
}

/// What the upstream answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Upstream {
    pub outcome: Outcome,
    /// The HTTP status (or SMTP reply code); 0 when there was no answer.
    pub status: u16,
    /// The answer: JSON if it was JSON, else text.
    pub body: Json,
    /// Whether the body was cut at the route's cap.
    pub truncated: bool,
    /// Why there was no answer, when there was none.
    pub failure: Option<ApiError>,
}

impl Upstream {
    /// No answer: the request failed in transport.
    pub fn failed(outcome: Outcome, kind: Kind, message: impl Into<String>) -> Upstream {
        Upstream {
            outcome,
            status: 0,
            body: Json::Null,
            truncated: false,
            failure: Some(ApiError::new(kind, message)),
        }
    }
}

impl Adapter {
    /// Builds the adapter a route configures, reading its credentials now.
    pub fn build(route: &RouteConfig) -> anyhow::Result<Adapter> {
        if let Some(http) = &route.http {
            return Ok(Adapter::Http(HttpAdapter::new(http.clone())?));
        }
        if let Some(smtp) = &route.smtp {
            return Ok(Adapter::Smtp(SmtpAdapter::new(smtp)?));
        }
        Ok(Adapter::Noop)
    }

    /// Checks the args against the route's mapping and builds the upstream request.
    /// Pure: no I/O. Any args key the route does not map is refused.
    pub fn prepare(
        &self,
        args: &Map,
        mapped: Option<&BTreeSet<String>>,
    ) -> Result<Prepared, ApiError> {
        if let Some(mapped) = mapped {
            let extra: Vec<&str> = args
                .iter()
                .map(|(k, _)| k)
                .filter(|k| !mapped.contains(*k))
                .collect();
            if !extra.is_empty() {
                return Err(ApiError::new(
                    Kind::InvalidArgs,
                    format!(
                        "the args hold {} that this route does not pass upstream: {}; the \
                         route maps {}",
                        if extra.len() == 1 { "a key" } else { "keys" },
                        extra.join(", "),
                        if mapped.is_empty() {
                            "none".to_owned()
                        } else {
                            mapped.iter().cloned().collect::<Vec<_>>().join(", ")
                        }
                    ),
                ));
            }
        }
        let invalid = |e: String| ApiError::new(Kind::InvalidArgs, e);
        Ok(match self {
            Adapter::Http(http) => Prepared::Http(http.prepare(args).map_err(invalid)?),
            Adapter::Smtp(smtp) => Prepared::Email(Box::new(smtp.prepare(args).map_err(invalid)?)),
            Adapter::Noop => Prepared::Noop,
        })
    }

    /// Performs the request. `idempotency_key` is the invocation's CID.
    pub async fn call(&self, prepared: Prepared, idempotency_key: &str) -> Upstream {
        match (self, prepared) {
            (Adapter::Http(http), Prepared::Http(request)) => {
                http.call(request, idempotency_key).await
            }
            (Adapter::Smtp(smtp), Prepared::Email(email)) => smtp.call(*email).await,
            (_, Prepared::Noop) => Upstream {
                outcome: Outcome::Ok,
                status: 200,
                body: Json::Null,
                truncated: false,
                failure: None,
            },
            _ => Upstream::failed(
                Outcome::UpstreamError,
                Kind::Internal,
                "the request does not fit the route's adapter",
            ),
        }
    }
}

/// A text arg: required or optional, a string.
pub(crate) fn text_arg<'a>(
    args: &'a Map,
    key: &str,
    required: bool,
) -> Result<Option<&'a str>, String> {
    match args.get(key) {
        Some(Value::String(s)) => Ok(Some(s)),
        None | Some(Value::Null) if !required => Ok(None),
        None | Some(Value::Null) => Err(format!(".{key} is required")),
        Some(other) => Err(format!(".{key} must be a string, not a {}", other.kind())),
    }
}
