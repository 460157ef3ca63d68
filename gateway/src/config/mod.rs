//! The gateway's configuration: a TOML file, read strictly. Unknown keys are errors, and a
//! broken file is explained in full — every problem found, one per line.

mod check;
mod route;
pub mod template;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use countersign_core::Did;
use countersign_server::duration::Secs;
use serde::Deserialize;
use serde::de::DeserializeOwned;

pub use route::{
    BodyFormat, HttpAuth, HttpConfig, Method, NoopConfig, RouteConfig, SmtpConfig, SmtpTls,
};

/// The gateway's configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Address the HTTP API listens on.
    pub listen: SocketAddr,
    /// Where the replay store, the revocation view and the receipt queue live.
    pub data_dir: PathBuf,
    /// The gateway's key (PKCS#8 PEM); created with mode 0600 if missing.
    pub key: PathBuf,
    /// The owners whose capabilities this gateway executes: the subjects it trusts.
    pub owners: Vec<Did>,
    pub service: ServiceConfig,
    pub checks: ChecksConfig,
    pub limits: LimitsConfig,
    pub routes: Vec<RouteConfig>,
}

/// The Countersign service: its revocation feed, and where receipts go.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    pub url: String,
    /// The service's DID, the audience of receipts; asked of the service when not given.
    #[serde(default, deserialize_with = "optional_did")]
    pub did: Option<Did>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ChecksConfig {
    /// The longest invocation lifetime accepted (`exp` minus `iat`, or minus now).
    pub max_lifetime: Secs,
    /// Everything is refused when the revocation view is older than this.
    pub max_staleness: Secs,
    /// How many verified delegations are remembered between invocations.
    pub proof_cache: usize,
}

impl Default for ChecksConfig {
    fn default() -> Self {
        ChecksConfig {
            max_lifetime: Secs(300),
            max_staleness: Secs(30),
            proof_cache: 10_000,
        }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// The longest one request to the gateway may take, upstream call included.
    pub request_timeout: Secs,
    /// How long a client has to send its request head.
    pub header_timeout: Secs,
    /// Connections served at once; beyond, new ones wait until one ends.
    pub max_connections: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_body_bytes: 1024 * 1024,
            request_timeout: Secs(60),
            header_timeout: Secs(10),
            max_connections: 10_000,
        }
    }
}

/// What is wrong with a configuration: every problem, each a line a person can act on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.join("\n"))]
pub struct Problems(pub Vec<String>);

/// The example configurations shipped with the gateway, by name.
pub const EXAMPLES: &[(&str, &str)] = &[
    (
        "payments-stripe",
        include_str!("../../examples/payments-stripe.toml"),
    ),
    ("email-http", include_str!("../../examples/email-http.toml")),
    ("email-smtp", include_str!("../../examples/email-smtp.toml")),
    ("dry-run", include_str!("../../examples/dry-run.toml")),
];

const KEYS: &[&str] = &[
    "listen", "data_dir", "key", "owners", "service", "checks", "limits", "routes",
];

impl Config {
    /// Reads, parses and checks a configuration file, credentials included: every
    /// environment variable and file it names must be there.
    pub fn load(path: &Path) -> Result<Config, Problems> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Problems(vec![format!("cannot read {}: {e}", path.display())]))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let config = Config::parse(&text, base)?;
        let problems = check::problems(&config, true);
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(Problems(problems))
        }
    }

    /// Parses configuration text; relative paths are taken from `base`. Checks structure
    /// only; [`Config::load`] also checks meaning and credentials.
    pub fn parse(text: &str, base: &Path) -> Result<Config, Problems> {
        let mut table: toml::Table =
            toml::from_str(text).map_err(|e| Problems(vec![syntax(text, &e)]))?;
        let mut problems = Vec::new();
        let mut unknown: Vec<&String> = table
            .keys()
            .filter(|k| !KEYS.contains(&k.as_str()))
            .collect();
        unknown.sort();
        for key in unknown {
            problems.push(format!(
                "unknown key `{key}` (the keys are {})",
                KEYS.join(", ")
            ));
        }
        let listen = take(&mut table, "listen", &mut problems)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8430)));
        let data_dir: Option<PathBuf> = required(&mut table, "data_dir", &mut problems);
        let key: Option<PathBuf> = take(&mut table, "key", &mut problems);
        let owners = take::<Vec<String>>(&mut table, "owners", &mut problems)
            .map(|list| parse_owners(&list, &mut problems))
            .unwrap_or_default();
        if !problems.iter().any(|p| p.starts_with("owners")) && owners.is_empty() {
            problems.push("owners: name at least one owner DID to trust as subject".into());
        }
        let service = required(&mut table, "service", &mut problems);
        let checks = take(&mut table, "checks", &mut problems).unwrap_or_default();
        let limits = take(&mut table, "limits", &mut problems).unwrap_or_default();
        let raw_routes: Vec<toml::Value> =
            take(&mut table, "routes", &mut problems).unwrap_or_default();
        let mut routes = Vec::with_capacity(raw_routes.len());
        for (i, raw) in raw_routes.into_iter().enumerate() {
            let label = route_label(i, &raw);
            match raw.try_into::<RouteConfig>() {
                Ok(mut route) => {
                    route.rebase(base);
                    routes.push(route);
                }
                Err(e) => problems.push(format!("{label}: {}", e.message().trim())),
            }
        }
        match (data_dir, service) {
            (Some(data_dir), Some(service)) if problems.is_empty() => {
                let data_dir = base.join(data_dir);
                let key = key.map_or_else(|| data_dir.join("gateway.pem"), |k| base.join(k));
                Ok(Config {
                    listen,
                    data_dir,
                    key,
                    owners,
                    service,
                    checks,
                    limits,
                    routes,
                })
            }
            _ => Err(Problems(problems)),
        }
    }

    /// The route configured for exactly this command.
    pub fn route(&self, command: &str) -> Option<&RouteConfig> {
        self.routes.iter().find(|r| r.command.as_str() == command)
    }
}

/// Problems of a configuration file, for `countersign gateway check-config`: empty when
/// the file is good to run with.
pub fn check_file(path: &Path) -> Vec<String> {
    match Config::load(path) {
        Ok(_) => Vec::new(),
        Err(Problems(problems)) => problems,
    }
}

/// Problems of a parsed configuration; with `credentials`, also that every environment
/// variable and file named for a credential can be read.
pub fn problems(config: &Config, credentials: bool) -> Vec<String> {
    check::problems(config, credentials)
}

fn take<T: DeserializeOwned>(
    table: &mut toml::Table,
    key: &str,
    problems: &mut Vec<String>,
) -> Option<T> {
    let value = table.remove(key)?;
    value
        .try_into()
        .map_err(|e: toml::de::Error| problems.push(format!("{key}: {}", e.message().trim())))
        .ok()
}

fn required<T: DeserializeOwned>(
    table: &mut toml::Table,
    key: &str,
    problems: &mut Vec<String>,
) -> Option<T> {
    if !table.contains_key(key) {
        problems.push(format!("{key} is required"));
        return None;
    }
    take(table, key, problems)
}

fn parse_owners(list: &[String], problems: &mut Vec<String>) -> Vec<Did> {
    list.iter()
        .filter_map(|text| {
            text.parse::<Did>()
                .map_err(|e| problems.push(format!("owners: {e}")))
                .ok()
        })
        .collect()
}

fn route_label(index: usize, raw: &toml::Value) -> String {
    match raw.get("command").and_then(toml::Value::as_str) {
        Some(command) => format!("routes[{index}] ({command})"),
        None => format!("routes[{index}]"),
    }
}

/// A syntax error as "line L, column C: message", without echoing the line (it might
/// hold something that should not be on a screen).
fn syntax(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim();
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message.to_owned(),
    }
}

pub(crate) fn optional_did<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Did>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|s| s.parse().map_err(serde::de::Error::custom))
        .transpose()
}

#[cfg(test)]
mod tests;
