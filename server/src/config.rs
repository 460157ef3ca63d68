//! Configuration: defaults, then a TOML file, then `COUNTERSIGN_…` environment variables.
//! Unknown keys are an error in both the file and the environment.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::duration::Secs;
pub use crate::notify::config::{NotifyConfig, NtfyConfig, PushConfig, WebhookConfig};

/// The service's configuration.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// The URL agents and devices reach the service at (used in links and pairing codes);
    /// empty means `http://<listen>`.
    pub public_url: String,
    /// Where keys and the SQLite database live.
    pub data_dir: PathBuf,
    /// `sqlite:PATH` or `postgres://…`; empty means `sqlite:<data_dir>/countersign.db`.
    pub database_url: String,
    /// The owner's DID; empty means the owner key of the CLI on this machine.
    pub owner: String,
    pub requests: RequestsConfig,
    pub agents: AgentsConfig,
    pub auth: AuthConfig,
    pub limits: LimitsConfig,
    pub audit: AuditConfig,
    pub push: PushConfig,
    pub ntfy: NtfyConfig,
    pub webhook: WebhookConfig,
    pub notify: NotifyConfig,
    /// DIDs of the gateways whose receipts are accepted into the audit log.
    pub gateways: Vec<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// How often the service signs a checkpoint of the audit log.
    pub checkpoint_every: Secs,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            checkpoint_every: Secs(60),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RequestsConfig {
    /// How long a request waits for a decision unless the agent asks for less.
    pub default_expiry: Secs,
    /// The longest a request may wait.
    pub max_expiry: Secs,
    /// Capability lifetime when the agent names none.
    pub default_lifetime: Secs,
    /// The longest capability the service issues.
    pub max_lifetime: Secs,
    /// The longest a long-poll waits before answering "still pending".
    pub max_wait: Secs,
    /// How often a waiting long-poll re-reads its request, in case a wake-up was lost
    /// (say, another replica's notification during a reconnect).
    pub recheck: Secs,
    /// Pending requests of all agents together, at most.
    pub max_pending_total: u32,
    /// Command prefixes whose requests need number matching.
    pub number_matching: Vec<String>,
    /// Agents (by name) whose requests need number matching.
    pub number_matching_agents: Vec<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AgentsConfig {
    /// Pending requests an agent may have at once, unless set per agent.
    pub max_pending: u32,
    /// Requests an agent may create per minute, unless set per agent.
    pub rate_per_min: u32,
    /// This many denials within `denial_window` suspend an agent until the owner resumes it.
    pub denials_to_suspend: u32,
    pub denial_window: Secs,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// The longest lifetime (exp − iat) accepted in a caller's JWT.
    pub max_token_lifetime: Secs,
    /// Clock difference tolerated between callers and the service.
    pub clock_skew: Secs,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Seconds a request may take to arrive and be answered (long-polls excepted).
    pub request_timeout: Secs,
    /// Seconds a client has to send a request's head (its line and headers).
    pub header_timeout: Secs,
    /// Connections served at once; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// Long-polls and event streams one authenticated caller may hold open at once.
    pub max_streams_per_caller: usize,
    /// Revocation streams (public, no authentication) open at once, service-wide.
    pub max_public_streams: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8420)),
            public_url: String::new(),
            data_dir: default_data_dir(),
            database_url: String::new(),
            owner: String::new(),
            requests: RequestsConfig::default(),
            agents: AgentsConfig::default(),
            auth: AuthConfig::default(),
            limits: LimitsConfig::default(),
            audit: AuditConfig::default(),
            push: PushConfig::default(),
            ntfy: NtfyConfig::default(),
            webhook: WebhookConfig::default(),
            notify: NotifyConfig::default(),
            gateways: Vec::new(),
        }
    }
}

impl Default for RequestsConfig {
    fn default() -> Self {
        RequestsConfig {
            default_expiry: Secs(300),
            max_expiry: Secs(3600),
            default_lifetime: Secs(300),
            max_lifetime: Secs(3600),
            max_wait: Secs(60),
            recheck: Secs(5),
            max_pending_total: 50,
            number_matching: Vec::new(),
            number_matching_agents: Vec::new(),
        }
    }
}

impl Default for AgentsConfig {
    fn default() -> Self {
        AgentsConfig {
            max_pending: 5,
            rate_per_min: 20,
            denials_to_suspend: 3,
            denial_window: Secs(600),
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            max_token_lifetime: Secs(300),
            clock_skew: Secs(30),
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_body_bytes: 256 * 1024,
            request_timeout: Secs(30),
            header_timeout: Secs(10),
            max_connections: 25_000,
            max_streams_per_caller: 8,
            max_public_streams: 1_000,
        }
    }
}

fn default_data_dir() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("countersign")
}

/// `COUNTERSIGN_…` variables that are not configuration keys.
const NOT_CONFIG: &[&str] = &[
    "CONFIG",
    "GATEWAY_CONFIG",
    "CONFIG_DIR",
    "SERVICE",
    "KEY",
    "BIN",
    "LOG",
    "NTFY_TOKEN",
    "WEBHOOK_SECRET",
];
const NOT_CONFIG_PREFIXES: &[&str] = &["TEST_", "REQUIRE_"];
const ENV_PREFIX: &str = "COUNTERSIGN_";
/// The highest value a connection or stream limit may take.
const MAX_CONNECTIONS: usize = 1_000_000;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

impl Config {
    /// Loads defaults, then `file` if given, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        Self::load_from(file, std::env::vars())
    }

    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let (mut table, origin) = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.display().to_string(),
                    source,
                })?;
                let table: toml::Table =
                    toml::from_str(&text).map_err(|e| ConfigError::Invalid {
                        path: path.display().to_string(),
                        message: e.message().to_owned(),
                    })?;
                (table, path.display().to_string())
            }
            None => (toml::Table::new(), "configuration".to_owned()),
        };
        let mut from_env = Vec::new();
        for (name, value) in env {
            let Some(key) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if NOT_CONFIG.contains(&key) || NOT_CONFIG_PREFIXES.iter().any(|p| key.starts_with(p)) {
                continue;
            }
            set_path(&mut table, &key.to_ascii_lowercase(), &value);
            from_env.push(name);
        }
        let origin = if from_env.is_empty() {
            origin
        } else {
            format!("{origin} (with {})", from_env.join(", "))
        };
        let config =
            Config::deserialize(toml::Value::Table(table)).map_err(|e| ConfigError::Invalid {
                path: origin.clone(),
                message: e.to_string(),
            })?;
        config
            .check_limits()
            .map_err(|message| ConfigError::Invalid {
                path: origin,
                message,
            })?;
        Ok(config)
    }

    /// Limits of zero would refuse every connection or every long-poll; the upper bound
    /// keeps them meaningful (no process holds a million open connections).
    fn check_limits(&self) -> Result<(), String> {
        let limits = [
            ("max_connections", self.limits.max_connections),
            ("max_streams_per_caller", self.limits.max_streams_per_caller),
            ("max_public_streams", self.limits.max_public_streams),
        ];
        for (name, value) in limits {
            if !(1..=MAX_CONNECTIONS).contains(&value) {
                return Err(format!(
                    "limits.{name} must be between 1 and {MAX_CONNECTIONS}, not {value}"
                ));
            }
        }
        Ok(())
    }

    /// The public URL without a trailing slash, defaulting to `http://<listen>`.
    pub fn public_url(&self) -> String {
        if self.public_url.is_empty() {
            format!("http://{}", self.listen)
        } else {
            self.public_url.trim_end_matches('/').to_owned()
        }
    }

    /// The database URL, with the SQLite default filled in.
    pub fn database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!("sqlite:{}", self.data_dir.join("countersign.db").display())
        } else {
            self.database_url.clone()
        }
    }
}

/// Sets `a__b` to a value in nested tables; numbers and booleans are typed, the rest text.
fn set_path(table: &mut toml::Table, key: &str, raw: &str) {
    let mut parts = key.split("__").peekable();
    let mut current = table;
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            let value = raw
                .parse::<i64>()
                .map(toml::Value::Integer)
                .or_else(|_| raw.parse::<bool>().map(toml::Value::Boolean))
                .unwrap_or_else(|_| toml::Value::String(raw.to_owned()));
            current.insert(part.to_owned(), value);
            return;
        }
        let entry = current
            .entry(part.to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        let toml::Value::Table(next) = entry else {
            return;
        };
        current = next;
    }
}

/// A commented example configuration, printed by `countersign config example`.
pub const EXAMPLE: &str = include_str!("../countersign.example.toml");

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_example_is_valid_and_matches_the_defaults() {
        let dir = std::env::temp_dir().join(format!("cs-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("example.toml");
        std::fs::write(&path, EXAMPLE).unwrap();
        let config = Config::load_from(Some(&path), env(&[])).unwrap();
        let defaults = Config {
            data_dir: config.data_dir.clone(),
            ..Config::default()
        };
        assert_eq!(config, defaults);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn environment_overrides_and_nests() {
        let config = Config::load_from(
            None,
            env(&[
                ("COUNTERSIGN_LISTEN", "0.0.0.0:9000"),
                ("COUNTERSIGN_REQUESTS__DEFAULT_EXPIRY", "2m"),
                ("COUNTERSIGN_AGENTS__MAX_PENDING", "9"),
                ("COUNTERSIGN_TEST_DATABASE_URL", "ignored"),
                ("OTHER", "ignored"),
            ]),
        )
        .unwrap();
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.requests.default_expiry, Secs(120));
        assert_eq!(config.agents.max_pending, 9);
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = Config::load_from(None, env(&[("COUNTERSIGN_LISTN", "x")])).unwrap_err();
        assert!(err.to_string().contains("listn"), "{err}");
        assert!(err.to_string().contains("COUNTERSIGN_LISTN"), "{err}");
        let err = Config::load_from(None, env(&[("COUNTERSIGN_REQUESTS__NOPE", "1")])).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
        let err = Config::load_from(None, env(&[("COUNTERSIGN_REQUESTS__MAX_EXPIRY", "soon")]))
            .unwrap_err();
        assert!(err.to_string().contains("soon"), "{err}");
    }

    #[test]
    fn connection_limits_out_of_range_are_refused() {
        for key in [
            "MAX_CONNECTIONS",
            "MAX_STREAMS_PER_CALLER",
            "MAX_PUBLIC_STREAMS",
        ] {
            let var = format!("COUNTERSIGN_LIMITS__{key}");
            let name = key.to_ascii_lowercase();
            for bad in ["0", "1000001"] {
                let err = Config::load_from(None, env(&[(var.as_str(), bad)])).unwrap_err();
                assert!(
                    err.to_string()
                        .contains(&format!("limits.{name} must be between 1 and 1000000")),
                    "{err}"
                );
            }
            assert!(Config::load_from(None, env(&[(var.as_str(), "3")])).is_ok());
        }
    }

    #[test]
    fn sqlite_is_the_default_database() {
        let config = Config {
            data_dir: "/var/lib/cs".into(),
            ..Config::default()
        };
        assert_eq!(config.database_url(), "sqlite:/var/lib/cs/countersign.db");
    }
}
