//! The rules that tie an invocation to its proofs: time, principals, subject, command, policy.

use std::sync::Arc;

use super::error::{TokenRef, ValidationError};
use crate::delegation::Delegation;
use crate::invocation::Invocation;
use crate::policy::PolicyLimits;
use crate::value::Value;

/// A token is valid from `nbf` (inclusive) until `exp` (exclusive).
pub(super) fn check_time(
    token: &TokenRef,
    nbf: Option<u64>,
    exp: Option<u64>,
    now: u64,
) -> Result<(), ValidationError> {
    if let Some(exp) = exp {
        if now >= exp {
            return Err(ValidationError::Expired {
                token: token.clone(),
                exp,
                now,
            });
        }
    }
    if let Some(nbf) = nbf {
        if now < nbf {
            return Err(ValidationError::TooEarly {
                token: token.clone(),
                nbf,
                now,
            });
        }
    }
    Ok(())
}

/// Each proof's issuer is the previous proof's audience; the last proof is addressed to
/// the invoker.
pub(super) fn check_principals(
    inv: &Invocation,
    chain: &[Arc<Delegation>],
) -> Result<(), ValidationError> {
    for (i, pair) in chain.windows(2).enumerate() {
        let (parent, child) = (&pair[0], &pair[1]);
        if child.issuer != parent.audience {
            return Err(ValidationError::InvalidAudience(format!(
                "proof {} is issued by {}, but proof {i} delegates to {}",
                i + 1,
                child.issuer,
                parent.audience
            )));
        }
    }
    if let Some(last) = chain.last() {
        if last.audience != inv.issuer {
            return Err(ValidationError::InvalidAudience(format!(
                "the last proof delegates to {}, but the invocation is issued by {}",
                last.audience, inv.issuer
            )));
        }
    }
    Ok(())
}

/// The root proof is issued by the subject itself; every later proof names the same
/// subject or none (powerline); the invocation acts on that subject.
pub(super) fn check_subjects(
    inv: &Invocation,
    chain: &[Arc<Delegation>],
) -> Result<(), ValidationError> {
    let Some(root) = chain.first() else {
        return Ok(());
    };
    let Some(subject) = root.subject else {
        return Err(ValidationError::InvalidClaim(
            "the root proof is a powerline (sub: null); a chain must start with a delegation \
             from its subject"
                .into(),
        ));
    };
    if root.issuer != subject {
        return Err(ValidationError::InvalidSubject(format!(
            "the root proof is issued by {}, not by its subject {subject}",
            root.issuer
        )));
    }
    for (i, d) in chain.iter().enumerate().skip(1) {
        if let Some(sub) = d.subject {
            if sub != subject {
                return Err(ValidationError::InvalidSubject(format!(
                    "proof {i} is about subject {sub}, but the chain's subject is {subject}"
                )));
            }
        }
    }
    if inv.subject != subject {
        return Err(ValidationError::InvalidSubject(format!(
            "the invocation acts on {}, but its proofs grant authority over {subject}",
            inv.subject
        )));
    }
    Ok(())
}

/// Every proof's command covers the invoked command.
pub(super) fn check_commands(
    inv: &Invocation,
    chain: &[Arc<Delegation>],
) -> Result<(), ValidationError> {
    for (i, d) in chain.iter().enumerate() {
        if !d.command.proves(&inv.command) {
            return Err(ValidationError::InvalidClaim(format!(
                "proof {i} grants {}, which does not cover the invoked command {}",
                d.command, inv.command
            )));
        }
    }
    Ok(())
}

/// The arguments satisfy the policy of every proof.
pub(super) fn check_policies(
    inv: &mut Invocation,
    chain: &[Arc<Delegation>],
    limits: &PolicyLimits,
) -> Result<(), ValidationError> {
    // Policies select from the args as a value; lend them out rather than copy them.
    let args = Value::Map(std::mem::take(&mut inv.args));
    let failed = chain
        .iter()
        .enumerate()
        .find_map(|(i, d)| d.policy.matches(&args, limits).err().map(|f| (i, f)));
    if let Value::Map(args) = args {
        inv.args = args;
    }
    match failed {
        None => Ok(()),
        Some((i, failure)) => Err(ValidationError::MatchError {
            token: TokenRef::Proof(i, inv.proofs[i].clone()),
            failure: failure.to_string(),
        }),
    }
}
