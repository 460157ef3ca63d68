//! Validation of an invocation against its proof chain, at a moment the caller gives.

mod cache;
mod chain;
mod error;
mod proofs;

use std::collections::HashSet;
use std::sync::Arc;

pub use cache::{CachedProof, ProofCache};
pub use error::{ErrorKind, TokenRef, ValidationError};
pub use proofs::ProofSet;

use crate::cid::Cid;
use crate::delegation::Delegation;
use crate::did::Did;
use crate::envelope::{Envelope, EnvelopeError, TokenKind};
use crate::invocation::Invocation;
use crate::policy::PolicyLimits;

/// Bounds on the work one validation may do.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest accepted token, in bytes.
    pub max_token_bytes: usize,
    /// Most proofs an invocation may cite.
    pub max_chain: usize,
    pub policy: PolicyLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_token_bytes: 256 * 1024,
            max_chain: 16,
            policy: PolicyLimits::default(),
        }
    }
}

/// Tells whether a token has been revoked. The core never looks anything up itself.
pub trait Revocations {
    fn is_revoked(&self, cid: &Cid) -> bool;
}

/// No token is revoked.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoRevocations;

impl Revocations for NoRevocations {
    fn is_revoked(&self, _: &Cid) -> bool {
        false
    }
}

impl Revocations for HashSet<Cid> {
    fn is_revoked(&self, cid: &Cid) -> bool {
        self.contains(cid)
    }
}

impl<F: Fn(&Cid) -> bool> Revocations for F {
    fn is_revoked(&self, cid: &Cid) -> bool {
        self(cid)
    }
}

/// What the caller knows about the moment of validation.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    /// Unix time in seconds.
    pub now: u64,
    /// When set, the invocation's executor (`aud`, or else `sub`) must be this principal.
    pub audience: Option<Did>,
    pub revocations: &'a dyn Revocations,
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("now", &self.now)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

/// An invocation that its chain authorises.
#[derive(Clone, Debug)]
pub struct Validated {
    pub invocation: Invocation,
    pub cid: Cid,
    /// The proofs, root first, in the order the invocation cites them.
    pub proofs: Vec<Arc<Delegation>>,
}

/// Validates invocations, remembering verified proofs between calls.
#[derive(Debug)]
pub struct Validator {
    limits: Limits,
    cache: ProofCache,
}

impl Validator {
    /// A validator that remembers up to `cache_capacity` verified delegations.
    pub fn new(limits: Limits, cache_capacity: usize) -> Validator {
        Validator {
            limits,
            cache: ProofCache::new(cache_capacity),
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn cache(&self) -> &ProofCache {
        &self.cache
    }

    /// Checks that `invocation` is signed, current, and authorised by its proofs.
    pub fn validate(
        &self,
        invocation: &[u8],
        proofs: &ProofSet,
        ctx: &Context<'_>,
    ) -> Result<Validated, ValidationError> {
        let mut inv = self.open_invocation(invocation)?;
        let cid = Cid::dag_cbor(invocation);
        let me = TokenRef::Invocation;
        if ctx.revocations.is_revoked(&cid) {
            return Err(ValidationError::Revoked { token: me });
        }
        chain::check_time(&me, None, inv.expiration, ctx.now)?;
        if inv.proofs.len() > self.limits.max_chain {
            return Err(ValidationError::ChainTooLong {
                len: inv.proofs.len(),
                max: self.limits.max_chain,
            });
        }
        if inv.proofs.is_empty() && inv.issuer != inv.subject {
            return Err(ValidationError::InvalidClaim(format!(
                "the invocation cites no proofs, so its issuer {} must be its subject {}",
                inv.issuer, inv.subject
            )));
        }
        let mut delegations = Vec::with_capacity(inv.proofs.len());
        for (index, cid) in inv.proofs.iter().enumerate() {
            let delegation = self.proof(index, cid, proofs)?;
            let token = TokenRef::Proof(index, cid.clone());
            if ctx.revocations.is_revoked(cid) {
                return Err(ValidationError::Revoked { token });
            }
            chain::check_time(
                &token,
                delegation.not_before,
                delegation.expiration,
                ctx.now,
            )?;
            delegations.push(delegation);
        }
        chain::check_principals(&inv, &delegations)?;
        chain::check_subjects(&inv, &delegations)?;
        chain::check_commands(&inv, &delegations)?;
        chain::check_policies(&mut inv, &delegations, &self.limits.policy)?;
        if let Some(expected) = ctx.audience {
            let executor = inv.executor();
            if executor != expected {
                return Err(ValidationError::InvalidAudience(format!(
                    "the invocation is addressed to {executor}, not to this executor ({expected})"
                )));
            }
        }
        Ok(Validated {
            invocation: inv,
            cid,
            proofs: delegations,
        })
    }

    fn open_invocation(&self, bytes: &[u8]) -> Result<Invocation, ValidationError> {
        let token = TokenRef::Invocation;
        let mut envelope = self.open(&token, bytes, TokenKind::Invocation)?;
        let inv = Invocation::from_payload(std::mem::take(&mut envelope.payload)).map_err(|e| {
            ValidationError::Malformed {
                token: token.clone(),
                reason: e.to_string(),
            }
        })?;
        envelope
            .verify(&inv.issuer)
            .map_err(|e| ValidationError::InvalidSignature {
                token,
                reason: e.to_string(),
            })?;
        Ok(inv)
    }

    /// Finds a proof in the cache, or reads and verifies it and caches it.
    fn proof(
        &self,
        index: usize,
        cid: &Cid,
        proofs: &ProofSet,
    ) -> Result<Arc<Delegation>, ValidationError> {
        let unavailable = || ValidationError::UnavailableProof {
            index,
            cid: cid.clone(),
        };
        if let Some(hit) = self.cache.get(cid) {
            return if proofs.contains_bytes(&hit.bytes) {
                Ok(hit.delegation.clone())
            } else {
                Err(unavailable())
            };
        }
        let bytes = proofs.get(cid).ok_or_else(unavailable)?;
        let token = TokenRef::Proof(index, cid.clone());
        let delegation = Arc::new(self.open_delegation(&token, bytes)?);
        self.cache.insert(
            cid.clone(),
            Arc::new(CachedProof {
                delegation: delegation.clone(),
                bytes: bytes.into(),
            }),
        );
        Ok(delegation)
    }

    /// Reads and verifies one delegation on its own (no chain, no time).
    pub fn open_delegation(
        &self,
        token: &TokenRef,
        bytes: &[u8],
    ) -> Result<Delegation, ValidationError> {
        let mut envelope = self.open(token, bytes, TokenKind::Delegation)?;
        let delegation =
            Delegation::from_payload(std::mem::take(&mut envelope.payload), &self.limits.policy)
                .map_err(|e| ValidationError::Malformed {
                    token: token.clone(),
                    reason: e.to_string(),
                })?;
        envelope
            .verify(&delegation.issuer)
            .map_err(|e| ValidationError::InvalidSignature {
                token: token.clone(),
                reason: e.to_string(),
            })?;
        Ok(delegation)
    }

    fn open<'b>(
        &self,
        token: &TokenRef,
        bytes: &'b [u8],
        want: TokenKind,
    ) -> Result<Envelope<'b>, ValidationError> {
        if bytes.len() > self.limits.max_token_bytes {
            return Err(ValidationError::TokenTooLarge {
                token: token.clone(),
                size: bytes.len(),
                max: self.limits.max_token_bytes,
            });
        }
        let envelope = Envelope::open(bytes).map_err(|e| match e {
            EnvelopeError::SignatureLength => ValidationError::InvalidSignature {
                token: token.clone(),
                reason: e.to_string(),
            },
            _ => ValidationError::Malformed {
                token: token.clone(),
                reason: e.to_string(),
            },
        })?;
        if envelope.kind != want {
            return Err(ValidationError::Malformed {
                token: token.clone(),
                reason: format!("expected a {want}, found a {}", envelope.kind),
            });
        }
        Ok(envelope)
    }
}

/// Validates once, without keeping verified proofs for later calls.
pub fn validate(
    invocation: &[u8],
    proofs: &ProofSet,
    ctx: &Context<'_>,
    limits: &Limits,
) -> Result<Validated, ValidationError> {
    Validator::new(limits.clone(), 0).validate(invocation, proofs, ctx)
}
