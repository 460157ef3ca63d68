//! Commands: `/`-separated lowercase paths, where a shorter path proves a longer one.

use std::fmt;
use std::str::FromStr;

/// A UCAN command such as `/payment/refund`. `/` alone is the top command.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Command(String);

/// Longest command we accept, in bytes.
pub const MAX_COMMAND_LEN: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("command {0:?} must start with '/'")]
    NoLeadingSlash(String),
    #[error("command {0:?} must not end with '/'")]
    TrailingSlash(String),
    #[error("command {0:?} has an empty segment")]
    EmptySegment(String),
    #[error("command {0:?} must be lowercase")]
    NotLowercase(String),
    #[error("command is longer than {MAX_COMMAND_LEN} bytes")]
    TooLong,
}

impl Command {
    /// `/`: every command.
    pub fn top() -> Command {
        Command("/".to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether authority over `self` covers `other`: `/` covers everything, `/a` covers
    /// `/a` and `/a/b`, but not `/ab`.
    pub fn proves(&self, other: &Command) -> bool {
        self.0 == "/"
            || other.0 == self.0
            || (other.0.starts_with(&self.0) && other.0.as_bytes().get(self.0.len()) == Some(&b'/'))
    }
}

impl FromStr for Command {
    type Err = CommandError;

    fn from_str(s: &str) -> Result<Command, CommandError> {
        if s.len() > MAX_COMMAND_LEN {
            return Err(CommandError::TooLong);
        }
        if !s.starts_with('/') {
            return Err(CommandError::NoLeadingSlash(s.to_owned()));
        }
        if s.len() > 1 && s.ends_with('/') {
            return Err(CommandError::TrailingSlash(s.to_owned()));
        }
        if s.contains("//") {
            return Err(CommandError::EmptySegment(s.to_owned()));
        }
        if s.chars().any(char::is_uppercase) {
            return Err(CommandError::NotLowercase(s.to_owned()));
        }
        Ok(Command(s.to_owned()))
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Command({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(s: &str) -> Command {
        s.parse().expect(s)
    }

    #[test]
    fn prefix_semantics_follow_segments() {
        assert!(cmd("/").proves(&cmd("/anything/at/all")));
        assert!(cmd("/payment").proves(&cmd("/payment")));
        assert!(cmd("/payment").proves(&cmd("/payment/refund")));
        assert!(!cmd("/payment").proves(&cmd("/paymentx")));
        assert!(!cmd("/payment/refund").proves(&cmd("/payment")));
        assert!(!cmd("/email").proves(&cmd("/")));
    }

    #[test]
    fn rejects_malformed_commands() {
        assert!(matches!(
            "pay".parse::<Command>(),
            Err(CommandError::NoLeadingSlash(_))
        ));
        assert!(matches!(
            "/pay/".parse::<Command>(),
            Err(CommandError::TrailingSlash(_))
        ));
        assert!(matches!(
            "/a//b".parse::<Command>(),
            Err(CommandError::EmptySegment(_))
        ));
        assert!(matches!(
            "/Pay".parse::<Command>(),
            Err(CommandError::NotLowercase(_))
        ));
        assert!(matches!(
            "".parse::<Command>(),
            Err(CommandError::NoLeadingSlash(_))
        ));
    }
}
