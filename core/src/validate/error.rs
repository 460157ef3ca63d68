//! Why a chain does not authorise an invocation, in kinds that match the UCAN fixtures.

use std::fmt;

use crate::cid::Cid;

/// The kind of a validation failure. The first eight are the kinds the official UCAN
/// 1.0 fixtures name; the others are ours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    InvalidClaim,
    UnavailableProof,
    Expired,
    TooEarly,
    InvalidAudience,
    InvalidSubject,
    InvalidSignature,
    MatchError,
    /// A token in the chain is not a well-formed UCAN.
    MalformedToken,
    /// A token in the chain has been revoked.
    Revoked,
    /// A size or length limit was exceeded.
    LimitExceeded,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidClaim => "InvalidClaim",
            ErrorKind::UnavailableProof => "UnavailableProof",
            ErrorKind::Expired => "Expired",
            ErrorKind::TooEarly => "TooEarly",
            ErrorKind::InvalidAudience => "InvalidAudience",
            ErrorKind::InvalidSubject => "InvalidSubject",
            ErrorKind::InvalidSignature => "InvalidSignature",
            ErrorKind::MatchError => "MatchError",
            ErrorKind::MalformedToken => "MalformedToken",
            ErrorKind::Revoked => "Revoked",
            ErrorKind::LimitExceeded => "LimitExceeded",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which token of a chain an error is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenRef {
    Invocation,
    /// A proof, by its position in `prf` (0 = root) and CID.
    Proof(usize, Cid),
}

impl fmt::Display for TokenRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenRef::Invocation => f.write_str("the invocation"),
            TokenRef::Proof(i, cid) => write!(f, "proof {i} ({cid})"),
        }
    }
}

/// A validation failure: its kind and a message a person can act on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    #[error("{token} is not a valid UCAN: {reason}")]
    Malformed { token: TokenRef, reason: String },
    #[error("{token} is {size} bytes; at most {max} are accepted")]
    TokenTooLarge {
        token: TokenRef,
        size: usize,
        max: usize,
    },
    #[error("the chain has {len} proofs; at most {max} are accepted")]
    ChainTooLong { len: usize, max: usize },
    #[error("{token} has an invalid signature: {reason}")]
    InvalidSignature { token: TokenRef, reason: String },
    #[error("{token} expired at {exp} (now is {now})")]
    Expired { token: TokenRef, exp: u64, now: u64 },
    #[error("{token} is not valid before {nbf} (now is {now})")]
    TooEarly { token: TokenRef, nbf: u64, now: u64 },
    #[error("proof {index} ({cid}) was not provided; include it in the container")]
    UnavailableProof { index: usize, cid: Cid },
    #[error("{0}")]
    InvalidClaim(String),
    #[error("{0}")]
    InvalidAudience(String),
    #[error("{0}")]
    InvalidSubject(String),
    #[error("the arguments violate the policy of {token}: {failure}")]
    MatchError { token: TokenRef, failure: String },
    #[error("{token} has been revoked")]
    Revoked { token: TokenRef },
}

impl ValidationError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ValidationError::Malformed { .. } => ErrorKind::MalformedToken,
            ValidationError::TokenTooLarge { .. } | ValidationError::ChainTooLong { .. } => {
                ErrorKind::LimitExceeded
            }
            ValidationError::InvalidSignature { .. } => ErrorKind::InvalidSignature,
            ValidationError::Expired { .. } => ErrorKind::Expired,
            ValidationError::TooEarly { .. } => ErrorKind::TooEarly,
            ValidationError::UnavailableProof { .. } => ErrorKind::UnavailableProof,
            ValidationError::InvalidClaim(_) => ErrorKind::InvalidClaim,
            ValidationError::InvalidAudience(_) => ErrorKind::InvalidAudience,
            ValidationError::InvalidSubject(_) => ErrorKind::InvalidSubject,
            ValidationError::MatchError { .. } => ErrorKind::MatchError,
            ValidationError::Revoked { .. } => ErrorKind::Revoked,
        }
    }
}
