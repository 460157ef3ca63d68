//! Routes: which command runs which upstream adapter, and how the args become its request.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use countersign_core::Command;
use countersign_server::duration::Secs;
use serde::Deserialize;

use super::template::{ArgPath, FieldSource, UrlTemplate};
use crate::secret::SecretSource;

/// One route: an invocation of exactly `command` is executed by the one adapter given.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    #[serde(deserialize_with = "command")]
    pub command: Command,
    /// Approvals from distinct devices the proof chain must carry.
    #[serde(default)]
    pub quorum: Option<u32>,
    #[serde(default)]
    pub http: Option<HttpConfig>,
    #[serde(default)]
    pub smtp: Option<SmtpConfig>,
    #[serde(default)]
    pub noop: Option<NoopConfig>,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BodyFormat {
    /// No body.
    #[default]
    None,
    /// `application/json`: an object of the fields.
    Json,
    /// `application/x-www-form-urlencoded`; maps and lists nest as `a[b]=…`, `a[0]=…`.
    Form,
}

/// How the credential is put on the upstream request.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum HttpAuth {
    /// `Authorization: Bearer <secret>`.
    Bearer(SecretSource),
    /// `Authorization: Basic base64(username:password)`.
    Basic {
        username: String,
        password: SecretSource,
    },
    /// A header of its own: `name: <prefix><secret>`.
    Header {
        name: String,
        value: SecretSource,
        #[serde(default)]
        prefix: String,
    },
}

/// An HTTP API upstream.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    pub method: Method,
    /// The URL, with `{path}` placeholders filled from the args.
    pub url: UrlTemplate,
    #[serde(default)]
    pub body: BodyFormat,
    /// Body fields: upstream name → args path or constant.
    #[serde(default)]
    pub fields: BTreeMap<String, FieldSource>,
    /// Query parameters: upstream name → args path or constant.
    #[serde(default)]
    pub query: BTreeMap<String, FieldSource>,
    /// Constant headers (not for credentials: use `auth`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub auth: Option<HttpAuth>,
    #[serde(default = "http_timeout")]
    pub timeout: Secs,
    /// The most response bytes read; the body is cut there.
    #[serde(default = "max_response")]
    pub max_response_bytes: usize,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain SMTP (port 25 by default). Only for a relay on this machine.
    None,
    /// Upgrade with STARTTLS, required (port 587 by default).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465 by default).
    Tls,
}

/// An SMTP relay for `/email/send`: `to`, `cc`, `subject`, `text` and `html` come from
/// the args; the sender is configured, never chosen by the agent.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub tls: SmtpTls,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<SecretSource>,
    /// The sender, e.g. `"Agent <agent@example.com>"`.
    pub from: String,
    #[serde(default = "smtp_timeout")]
    pub timeout: Secs,
    /// The most recipients (to and cc together) one message may have.
    #[serde(default = "max_recipients")]
    pub max_recipients: usize,
}

/// Answers success without any I/O: for dry runs and benchmarks.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NoopConfig {
    /// The args keys accepted; absent, any.
    #[serde(default)]
    pub args: Option<Vec<String>>,
}

/// The args keys an SMTP route reads.
pub const SMTP_ARGS: &[&str] = &["to", "cc", "subject", "text", "html"];

impl RouteConfig {
    /// The top-level args keys this route passes on: any other key is refused.
    /// `None` accepts any (a noop route without an `args` list).
    pub fn mapped_args(&self) -> Option<BTreeSet<String>> {
        if let Some(http) = &self.http {
            let fields = http.fields.values().chain(http.query.values());
            let paths = fields
                .filter_map(|f| match f {
                    FieldSource::Arg(path) => Some(path),
                    FieldSource::Const(_) => None,
                })
                .chain(http.url.args());
            return Some(paths.map(|p: &ArgPath| p.top().to_owned()).collect());
        }
        if self.smtp.is_some() {
            return Some(SMTP_ARGS.iter().map(|s| (*s).to_owned()).collect());
        }
        self.noop
            .as_ref()
            .and_then(|n| n.args.as_ref())
            .map(|args| args.iter().cloned().collect())
    }

    /// Which adapter the route uses, for display.
    pub fn adapter_name(&self) -> &'static str {
        match (&self.http, &self.smtp) {
            (Some(_), _) => "http",
            (_, Some(_)) => "smtp",
            _ => "noop",
        }
    }

    pub(super) fn rebase(&mut self, base: &Path) {
        if let Some(http) = &mut self.http {
            match &mut http.auth {
                Some(HttpAuth::Bearer(s)) => s.rebase(base),
                Some(HttpAuth::Basic { password, .. }) => password.rebase(base),
                Some(HttpAuth::Header { value, .. }) => value.rebase(base),
                None => {}
            }
        }
        if let Some(SmtpConfig {
            password: Some(password),
            ..
        }) = &mut self.smtp
        {
            password.rebase(base);
        }
    }

    /// The credentials the route names, with where each is used.
    pub fn credentials(&self) -> Vec<(&'static str, &SecretSource)> {
        let mut out = Vec::new();
        match self.http.as_ref().and_then(|h| h.auth.as_ref()) {
            Some(HttpAuth::Bearer(s)) => out.push(("http.auth.bearer", s)),
            Some(HttpAuth::Basic { password, .. }) => out.push(("http.auth.basic", password)),
            Some(HttpAuth::Header { value, .. }) => out.push(("http.auth.header", value)),
            None => {}
        }
        if let Some(password) = self.smtp.as_ref().and_then(|s| s.password.as_ref()) {
            out.push(("smtp.password", password));
        }
        out
    }
}

fn command<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Command, D::Error> {
    String::deserialize(d)?
        .parse()
        .map_err(serde::de::Error::custom)
}

fn http_timeout() -> Secs {
    Secs(10)
}

fn smtp_timeout() -> Secs {
    Secs(30)
}

fn max_response() -> usize {
    64 * 1024
}

fn max_recipients() -> usize {
    50
}
