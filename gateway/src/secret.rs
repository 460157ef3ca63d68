//! Credentials: where the configuration says to find them, and a type that never shows them.
//!
//! A credential is named in the configuration as `{ env = "NAME" }` or `{ file = "PATH" }`,
//! never written there. Once read it lives in a [`Secret`], whose `Debug` and `Display`
//! print `[redacted]` and whose memory is wiped when dropped.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer};
use zeroize::Zeroizing;

/// Where a credential comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretSource {
    /// An environment variable of the gateway process.
    Env(String),
    /// A file (e.g. a mounted secret); one trailing line break is ignored.
    File(PathBuf),
}

/// A credential's value. It prints as `[redacted]`, and is wiped from memory when dropped.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(Zeroizing::new(value.into()))
    }

    /// The value itself, for the one place that sends it upstream.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Largest credential file read.
const MAX_SECRET_FILE: u64 = 64 * 1024;

impl SecretSource {
    /// Reads the credential now. The error names the source, never a value.
    pub fn resolve(&self) -> Result<Secret, String> {
        let value = match self {
            SecretSource::Env(name) => match std::env::var(name) {
                Ok(v) => v,
                Err(std::env::VarError::NotPresent) => {
                    return Err(format!("the environment variable {name} is not set"));
                }
                Err(std::env::VarError::NotUnicode(_)) => {
                    return Err(format!("the environment variable {name} is not UTF-8"));
                }
            },
            SecretSource::File(path) => {
                let shown = path.display();
                let meta = std::fs::metadata(path)
                    .map_err(|e| format!("cannot read the file {shown}: {e}"))?;
                if !meta.is_file() || meta.len() > MAX_SECRET_FILE {
                    return Err(format!(
                        "the file {shown} is not a regular file of at most 64 KiB"
                    ));
                }
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read the file {shown}: {e}"))?;
                let trimmed = text.strip_suffix('\n').unwrap_or(&text);
                let trimmed = trimmed.strip_suffix('\r').unwrap_or(trimmed);
                let value = trimmed.to_owned();
                drop(Zeroizing::new(text));
                value
            }
        };
        if value.is_empty() {
            return Err(format!("{} is empty", self.describe()));
        }
        Ok(Secret::new(value))
    }

    /// Where the credential is read from, for messages.
    pub fn describe(&self) -> String {
        match self {
            SecretSource::Env(name) => format!("the environment variable {name}"),
            SecretSource::File(path) => format!("the file {}", path.display()),
        }
    }

    /// Makes a relative file path relative to `base` (the configuration file's directory).
    pub fn rebase(&mut self, base: &std::path::Path) {
        if let SecretSource::File(path) = self {
            if path.is_relative() {
                *path = base.join(&*path);
            }
        }
    }
}

impl<'de> Deserialize<'de> for SecretSource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        const HOW: &str = "a credential is given as { env = \"NAME\" } or { file = \"PATH\" }; \
                           its value is never written in the configuration";
        let value = toml::Value::deserialize(d)?;
        let toml::Value::Table(table) = value else {
            return Err(D::Error::custom(HOW));
        };
        let mut entries = table.into_iter();
        match (entries.next(), entries.next()) {
            (Some((key, toml::Value::String(s))), None) if key == "env" && !s.is_empty() => {
                Ok(SecretSource::Env(s))
            }
            (Some((key, toml::Value::String(s))), None) if key == "file" && !s.is_empty() => {
                Ok(SecretSource::File(PathBuf::from(s)))
            }
            _ => Err(D::Error::custom(HOW)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("sk_live_123");
        assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
        assert_eq!(s.expose(), "sk_live_123");
    }

    #[test]
    fn sources_parse_and_refuse_inline_values() {
        #[derive(Deserialize)]
        struct T {
            a: SecretSource,
        }
        let env: T = toml::from_str(r#"a = { env = "K" }"#).unwrap();
        assert_eq!(env.a, SecretSource::Env("K".into()));
        let file: T = toml::from_str(r#"a = { file = "/run/s" }"#).unwrap();
        assert_eq!(file.a, SecretSource::File("/run/s".into()));
        for bad in [
            r#"a = "sk_live_123""#,
            r#"a = { env = "K", file = "f" }"#,
            "a = {}",
        ] {
            let table: toml::Table = toml::from_str(bad).unwrap();
            let err = toml::Value::Table(table)
                .try_into::<T>()
                .err()
                .unwrap()
                .to_string();
            assert!(err.contains("never written"), "{err}");
            assert!(!err.contains("sk_live_123"), "{err}");
        }
    }

    #[test]
    fn files_are_read_without_the_trailing_newline() {
        let dir = std::env::temp_dir().join(format!("cs-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s");
        std::fs::write(&path, "hunter2\n").unwrap();
        let s = SecretSource::File(path.clone()).resolve().unwrap();
        assert_eq!(s.expose(), "hunter2");
        std::fs::write(&path, "").unwrap();
        assert!(SecretSource::File(path).resolve().is_err());
        assert!(
            SecretSource::Env("COUNTERSIGN_TEST_SURELY_UNSET_VAR".into())
                .resolve()
                .unwrap_err()
                .contains("not set")
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
