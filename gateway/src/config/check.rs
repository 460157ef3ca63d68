//! What a configuration means, checked: every problem found, each on its own line.

use std::collections::HashSet;
use std::net::IpAddr;

use axum::http::{HeaderName, HeaderValue};
use countersign_core::Keypair;

use super::Config;
use super::route::{BodyFormat, HttpAuth, HttpConfig, Method, RouteConfig, SmtpConfig, SmtpTls};

/// Headers the gateway sets itself; a route may not set them.
const RESERVED_HEADERS: &[&str] = &[
    "authorization",
    "idempotency-key",
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
];

/// Most approvals a quorum may ask for.
pub const MAX_QUORUM: u32 = 16;

/// Most connections a gateway may be configured to serve at once.
pub const MAX_CONNECTIONS: usize = 1_000_000;

pub(super) fn problems(config: &Config, credentials: bool) -> Vec<String> {
    let mut out = Vec::new();
    match reqwest::Url::parse(&config.service.url) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && !url.cannot_be_a_base() => {}
        _ => out.push(format!(
            "service.url: {:?} is not an http:// or https:// URL",
            config.service.url
        )),
    }
    if config.limits.max_body_bytes < 1024 {
        out.push("limits.max_body_bytes: must be at least 1024".into());
    }
    let connections = config.limits.max_connections;
    if !(1..=MAX_CONNECTIONS).contains(&connections) {
        out.push(format!(
            "limits.max_connections: must be between 1 and {MAX_CONNECTIONS}, not {connections}"
        ));
    }
    if config.checks.proof_cache == 0 {
        out.push("checks.proof_cache: must be at least 1".into());
    }
    if config.key.exists() {
        let readable = std::fs::read_to_string(&config.key)
            .map_err(|e| e.to_string())
            .and_then(|pem| {
                Keypair::from_pkcs8_pem(&pem)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            });
        if let Err(e) = readable {
            out.push(format!("key: {}: {e}", config.key.display()));
        }
    }
    if config.routes.is_empty() {
        out.push("routes: there are none; add at least one [[routes]] table".into());
    }
    let mut seen = HashSet::new();
    for (i, route) in config.routes.iter().enumerate() {
        let label = format!("routes[{i}] ({})", route.command);
        if !seen.insert(route.command.clone()) {
            out.push(format!("{label}: another route has the same command"));
        }
        route_problems(config, route, &label, credentials, &mut out);
    }
    out
}

fn route_problems(
    config: &Config,
    route: &RouteConfig,
    label: &str,
    credentials: bool,
    out: &mut Vec<String>,
) {
    let adapters = [
        route.http.is_some(),
        route.smtp.is_some(),
        route.noop.is_some(),
    ];
    if adapters.iter().filter(|a| **a).count() != 1 {
        out.push(format!(
            "{label}: give exactly one adapter: an http, smtp or noop table"
        ));
    }
    if let Some(k) = route.quorum {
        if k == 0 || k > MAX_QUORUM {
            out.push(format!("{label}: quorum must be 1 to {MAX_QUORUM}"));
        }
    }
    if let Some(http) = &route.http {
        http_problems(config, http, label, out);
    }
    if let Some(smtp) = &route.smtp {
        smtp_problems(smtp, label, out);
    }
    if credentials {
        for (place, source) in route.credentials() {
            if let Err(e) = source.resolve() {
                out.push(format!("{label}: {place}: {e}"));
            }
        }
    }
}

fn http_problems(config: &Config, http: &HttpConfig, label: &str, out: &mut Vec<String>) {
    if http.body == BodyFormat::None && !http.fields.is_empty() {
        out.push(format!(
            "{label}: http.fields are given but http.body is \"none\"; set body = \"json\" or \"form\""
        ));
    }
    if http.method == Method::Get && http.body != BodyFormat::None {
        out.push(format!(
            "{label}: a GET request has no body; use http.query for its parameters"
        ));
    }
    for (name, value) in &http.headers {
        let valid_name = HeaderName::from_bytes(name.as_bytes()).is_ok();
        if !valid_name || RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            out.push(format!(
                "{label}: http.headers: {name:?} is not a header a route may set \
                 (credentials go in http.auth)"
            ));
        }
        if HeaderValue::from_str(value).is_err() {
            out.push(format!(
                "{label}: http.headers: the value of {name:?} is not a valid header value"
            ));
        }
    }
    if let Some(HttpAuth::Header { name, prefix, .. }) = &http.auth {
        if HeaderName::from_bytes(name.as_bytes()).is_err() {
            out.push(format!(
                "{label}: http.auth.header: {name:?} is not a header name"
            ));
        }
        if HeaderValue::from_str(prefix).is_err() {
            out.push(format!(
                "{label}: http.auth.header: the prefix is not a valid header value"
            ));
        }
    }
    if let Some(HttpAuth::Basic { username, .. }) = &http.auth {
        if username.contains(':') {
            out.push(format!(
                "{label}: http.auth.basic: the username may not contain ':'"
            ));
        }
    }
    if http.max_response_bytes == 0 || http.max_response_bytes > 16 * 1024 * 1024 {
        out.push(format!(
            "{label}: http.max_response_bytes must be 1 to 16777216"
        ));
    }
    if http.timeout >= config.limits.request_timeout {
        out.push(format!(
            "{label}: http.timeout ({}) must be shorter than limits.request_timeout ({})",
            http.timeout, config.limits.request_timeout
        ));
    }
    if http
        .fields
        .keys()
        .chain(http.query.keys())
        .any(String::is_empty)
    {
        out.push(format!("{label}: an upstream field name is empty"));
    }
}

fn smtp_problems(smtp: &SmtpConfig, label: &str, out: &mut Vec<String>) {
    if smtp.host.trim().is_empty() {
        out.push(format!("{label}: smtp.host is empty"));
    }
    if smtp.from.parse::<lettre::message::Mailbox>().is_err() {
        out.push(format!(
            "{label}: smtp.from: {:?} is not an address like \"Agent <agent@example.com>\"",
            smtp.from
        ));
    }
    if smtp.username.is_some() != smtp.password.is_some() {
        out.push(format!(
            "{label}: give both smtp.username and smtp.password, or neither"
        ));
    }
    let loopback =
        smtp.host == "localhost" || smtp.host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if smtp.tls == SmtpTls::None && smtp.password.is_some() && !loopback {
        out.push(format!(
            "{label}: smtp.tls = \"none\" would send the password in clear to {}; use \
             \"starttls\" or \"tls\"",
            smtp.host
        ));
    }
    if smtp.max_recipients == 0 {
        out.push(format!("{label}: smtp.max_recipients must be at least 1"));
    }
}
