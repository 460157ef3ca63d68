//! The checks every invocation passes before anything is written or sent. Pure: the
//! moment and the revocation set are given, and nothing here does I/O.
//!
//! In order: the chain (signatures, alignment, subject, commands, policies, time,
//! revocation — the core's `Validator`, addressed to this gateway), a trusted subject,
//! an expiry within the lifetime bound, a route for exactly the invoked command, args
//! the route maps (and can build its request from), and the route's quorum.

pub mod quorum;

use std::collections::HashSet;

use countersign_core::envelope::{Envelope, TokenKind};
use countersign_core::validate::{Context, ProofSet};
use countersign_core::{Cid, Command, Did, ErrorKind, Validated, Validator};

use crate::adapters::Prepared;
use crate::error::{ApiError, Kind};
use crate::routes::{Route, Routes};

/// What the checks need to know about this gateway.
#[derive(Debug)]
pub struct Checks<'a> {
    pub validator: &'a Validator,
    pub gateway: Did,
    pub owners: &'a HashSet<Did>,
    pub routes: &'a Routes,
    /// The longest invocation lifetime accepted, in seconds.
    pub max_lifetime: u64,
}

/// An invocation that passed every check, with its upstream request built.
#[derive(Debug)]
pub struct Checked<'r> {
    pub cid: Cid,
    pub command: Command,
    pub expires_at: u64,
    pub route: &'r Route,
    pub prepared: Prepared,
}

/// A refusal. After the chain was found valid for a trusted subject, `seen` names the
/// invocation, so that the refusal can be reported in a receipt.
#[derive(Debug)]
pub struct Refused {
    pub error: ApiError,
    pub seen: Option<Seen>,
}

/// A valid invocation for a trusted subject.
#[derive(Debug, Clone)]
pub struct Seen {
    pub cid: Cid,
    pub command: Command,
    pub expires_at: u64,
}

impl From<ApiError> for Refused {
    fn from(error: ApiError) -> Self {
        Refused { error, seen: None }
    }
}

impl<'a> Checks<'a> {
    /// Runs every check on the tokens of a container at `now`.
    pub fn check(
        &self,
        tokens: Vec<Vec<u8>>,
        now: u64,
        revoked: &HashSet<Cid>,
    ) -> Result<Checked<'a>, Refused> {
        let (invocation, proofs) = split(tokens)?;
        let ctx = Context {
            now,
            audience: Some(self.gateway),
            revocations: revoked,
        };
        let validated = self
            .validator
            .validate(&invocation, &ProofSet::new(proofs), &ctx)
            .map_err(ApiError::from)?;
        let inv = &validated.invocation;
        if !self.owners.contains(&inv.subject) {
            return Err(ApiError::new(
                Kind::UntrustedSubject,
                format!(
                    "the invocation acts on {}, which is not an owner this gateway serves",
                    inv.subject
                ),
            )
            .into());
        }
        let seen = Seen {
            cid: validated.cid.clone(),
            command: inv.command.clone(),
            expires_at: inv.expiration.unwrap_or(now),
        };
        let refuse = |error: ApiError| Refused {
            error,
            seen: Some(seen.clone()),
        };
        let expires_at = self.lifetime(&validated, now).map_err(refuse)?;
        let route = self.routes.get(&inv.command).ok_or_else(|| {
            let served: Vec<&str> = self.routes.commands().iter().map(|c| c.as_str()).collect();
            refuse(ApiError::new(
                Kind::NoRoute,
                format!(
                    "no route serves {}; this gateway serves {}",
                    inv.command,
                    served.join(", ")
                ),
            ))
        })?;
        let prepared = route
            .adapter
            .prepare(&inv.args, route.mapped.as_ref())
            .map_err(refuse)?;
        if let Some(k) = route.quorum {
            quorum::require(k, &validated, self.validator, now, revoked).map_err(refuse)?;
        }
        Ok(Checked {
            cid: validated.cid,
            command: validated.invocation.command,
            expires_at,
            route,
            prepared,
        })
    }

    /// The invocation must expire, within `max_lifetime` of when it was issued (or of
    /// now, if it claims to be issued later or says nothing).
    fn lifetime(&self, validated: &Validated, now: u64) -> Result<u64, ApiError> {
        let inv = &validated.invocation;
        let Some(exp) = inv.expiration else {
            return Err(ApiError::new(
                Kind::NoExpiry,
                format!(
                    "the invocation never expires; this gateway accepts invocations that \
                     expire within {}s",
                    self.max_lifetime
                ),
            ));
        };
        let start = inv.issued_at.map_or(now, |iat| iat.min(now));
        let lifetime = exp.saturating_sub(start);
        if lifetime > self.max_lifetime {
            return Err(ApiError::new(
                Kind::LifetimeTooLong,
                format!(
                    "the invocation lives {lifetime}s (exp {exp}, from {start}); at most {}s \
                     is accepted",
                    self.max_lifetime
                ),
            ));
        }
        Ok(exp)
    }
}

/// Separates the one invocation from its proofs.
fn split(tokens: Vec<Vec<u8>>) -> Result<(Vec<u8>, Vec<Vec<u8>>), ApiError> {
    let malformed = |m: &str| ApiError::new(Kind::Core(ErrorKind::MalformedToken), m);
    // Canonical envelopes are recognised by their bytes; anything unusual is decoded.
    let fast = tokens.iter().filter(|t| looks_like_invocation(t)).count();
    let (invocations, proofs): (Vec<Vec<u8>>, Vec<Vec<u8>>) = if fast == 1 {
        tokens.into_iter().partition(|t| looks_like_invocation(t))
    } else {
        tokens
            .into_iter()
            .partition(|t| Envelope::open(t).is_ok_and(|e| e.kind == TokenKind::Invocation))
    };
    let mut invocations = invocations.into_iter();
    match (invocations.next(), invocations.next()) {
        (Some(invocation), None) => Ok((invocation, proofs)),
        (None, _) => Err(malformed("the container holds no invocation")),
        (Some(_), Some(_)) => Err(malformed(
            "the container holds more than one invocation; send one at a time",
        )),
    }
}

/// Whether canonical envelope bytes carry an invocation: after the 64-byte signature
/// comes `{"h": <8-byte varsig>, "ucan/inv@…": …}`, so the tag sits at a fixed place.
fn looks_like_invocation(token: &[u8]) -> bool {
    token.get(67..71) == Some(&[0xa2, 0x61, b'h', 0x48])
        && matches!(token.get(79), Some(0x6e | 0x73))
        && token.get(80..89) == Some(b"ucan/inv@")
}

#[cfg(test)]
mod tests {
    use super::*;
    use countersign_core::sample::SampleChain;

    #[test]
    fn recognises_invocations_by_their_bytes() {
        let chain = SampleChain::build().unwrap();
        assert!(looks_like_invocation(&chain.invocation.bytes));
        for d in &chain.delegations {
            assert!(!looks_like_invocation(&d.bytes));
        }
        let mut tokens = chain.proof_bytes();
        tokens.insert(1, chain.invocation.bytes.clone());
        let (inv, proofs) = split(tokens).unwrap();
        assert_eq!(inv, chain.invocation.bytes);
        assert_eq!(proofs.len(), 3);
        let err = split(chain.proof_bytes()).unwrap_err();
        assert_eq!(err.kind, Kind::Core(ErrorKind::MalformedToken));
    }
}
