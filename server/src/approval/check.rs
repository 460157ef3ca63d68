//! Whether a device's signed approval may be accepted for a request.
//!
//! The device signs a device → service delegation. It is accepted only if it is signed
//! by that device, names the service and the owner, is no wider than the request, and is
//! covered by a live standing delegation from the owner to the device.

use countersign_core::policy::PolicyLimits;
use countersign_core::validate::{Limits, TokenRef, Validator};
use countersign_core::{Cid, Delegation, Did, Value, json};

use crate::store::{Device, Request};

/// An acceptable approval, and what it rests on.
#[derive(Debug, Clone)]
pub struct CheckedApproval {
    pub delegation: Delegation,
    /// The owner → device delegation that covers it (envelope bytes).
    pub standing: Vec<u8>,
    /// When the capability issued for it must expire: the approval's expiry, never later
    /// than the lifetime the agent asked for.
    pub expires_at: u64,
}

/// Why an approval is refused. Each has a stable code for the API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApprovalRefusal {
    #[error("the approval is not a valid signed delegation: {0}")]
    Invalid(String),
    #[error("the approval is signed by {0}, not by the calling device")]
    WrongIssuer(Did),
    #[error("the approval must delegate to the service {expected}, not to {found}")]
    WrongAudience { expected: Did, found: Did },
    #[error("the approval must be about the owner {0}")]
    WrongSubject(Did),
    #[error("the approval grants {approved}, which is wider than the requested {requested}")]
    CommandWider { approved: String, requested: String },
    #[error("the approval drops the requested policy statement {0}")]
    PolicyWider(String),
    #[error("the approval must expire")]
    NoExpiry,
    #[error("the approval expires at {exp}, later than the requested lifetime allows ({max})")]
    LifetimeWider { exp: u64, max: u64 },
    #[error("the approval has already expired")]
    Expired,
    #[error("no standing delegation lets this device approve {0}")]
    NotCovered(String),
    #[error("the device's standing policy does not allow this: {0}")]
    StandingPolicy(String),
    #[error("the approval outlives the device's standing delegation (expires {0})")]
    OutlivesStanding(u64),
}

impl ApprovalRefusal {
    pub fn code(&self) -> &'static str {
        match self {
            ApprovalRefusal::Invalid(_) => "invalid_approval",
            ApprovalRefusal::WrongIssuer(_) => "wrong_issuer",
            ApprovalRefusal::WrongAudience { .. } => "wrong_audience",
            ApprovalRefusal::WrongSubject(_) => "wrong_subject",
            ApprovalRefusal::CommandWider { .. } => "command_wider",
            ApprovalRefusal::PolicyWider(_) => "policy_wider",
            ApprovalRefusal::NoExpiry => "no_expiry",
            ApprovalRefusal::LifetimeWider { .. } => "lifetime_wider",
            ApprovalRefusal::Expired => "approval_expired",
            ApprovalRefusal::NotCovered(_) => "not_covered",
            ApprovalRefusal::StandingPolicy(_) => "standing_policy",
            ApprovalRefusal::OutlivesStanding(_) => "outlives_standing",
        }
    }
}

/// Who and when, for one check.
#[derive(Debug, Clone, Copy)]
pub struct Parties<'a> {
    pub device: &'a Device,
    pub service: Did,
    pub owner: Did,
    pub now: u64,
    /// Clock difference tolerated between the device and the service.
    pub skew: u64,
}

pub fn check_approval(
    request: &Request,
    envelope: &[u8],
    parties: Parties<'_>,
    is_revoked: impl Fn(&Cid) -> bool,
) -> Result<CheckedApproval, ApprovalRefusal> {
    let validator = Validator::new(Limits::default(), 0);
    let cid = Cid::dag_cbor(envelope);
    let d = validator
        .open_delegation(&TokenRef::Proof(0, cid), envelope)
        .map_err(|e| ApprovalRefusal::Invalid(e.to_string()))?;
    if d.issuer != parties.device.did {
        return Err(ApprovalRefusal::WrongIssuer(d.issuer));
    }
    if d.audience != parties.service {
        return Err(ApprovalRefusal::WrongAudience {
            expected: parties.service,
            found: d.audience,
        });
    }
    if d.subject != Some(parties.owner) {
        return Err(ApprovalRefusal::WrongSubject(parties.owner));
    }
    if !request.command.proves(&d.command) {
        return Err(ApprovalRefusal::CommandWider {
            approved: d.command.to_string(),
            requested: request.command.to_string(),
        });
    }
    keeps_every_statement(&request.policy, &d)?;
    let exp = d.expiration.ok_or(ApprovalRefusal::NoExpiry)?;
    let max = parties.now + request.lifetime + parties.skew;
    if exp > max {
        return Err(ApprovalRefusal::LifetimeWider { exp, max });
    }
    if exp <= parties.now {
        return Err(ApprovalRefusal::Expired);
    }
    let standing = covering_standing(request, &d, parties, &validator, is_revoked)?;
    let expires_at = exp.min(parties.now + request.lifetime);
    Ok(CheckedApproval {
        delegation: d,
        standing,
        expires_at,
    })
}

/// Every statement of the requested policy is in the approval (which may add more).
fn keeps_every_statement(
    requested: &serde_json::Value,
    d: &Delegation,
) -> Result<(), ApprovalRefusal> {
    let approved: Vec<Value> = d.policy.statements().iter().map(|s| s.to_value()).collect();
    let requested =
        json::from_json(requested).map_err(|e| ApprovalRefusal::Invalid(e.to_string()))?;
    for statement in requested.as_list().unwrap_or_default() {
        if !approved.contains(statement) {
            return Err(ApprovalRefusal::PolicyWider(
                json::to_json(statement).to_string(),
            ));
        }
    }
    Ok(())
}

/// Finds a live owner → device delegation that covers the approval.
fn covering_standing(
    request: &Request,
    approval: &Delegation,
    parties: Parties<'_>,
    validator: &Validator,
    is_revoked: impl Fn(&Cid) -> bool,
) -> Result<Vec<u8>, ApprovalRefusal> {
    let args = request
        .args
        .as_ref()
        .map(json::from_json)
        .transpose()
        .ok()
        .flatten();
    let mut last_problem = ApprovalRefusal::NotCovered(approval.command.to_string());
    for bytes in &parties.device.standing {
        let cid = Cid::dag_cbor(bytes);
        let Ok(s) = validator.open_delegation(&TokenRef::Proof(0, cid.clone()), bytes) else {
            continue;
        };
        let live = s.issuer == parties.owner
            && s.audience == parties.device.did
            && s.subject == Some(parties.owner)
            && s.command.proves(&approval.command)
            && s.expiration.is_none_or(|e| e > parties.now)
            && s.not_before.is_none_or(|n| n <= parties.now + parties.skew)
            && !is_revoked(&cid);
        if !live {
            continue;
        }
        if let Some(standing_exp) = s.expiration {
            if approval.expiration.is_none_or(|e| e > standing_exp) {
                last_problem = ApprovalRefusal::OutlivesStanding(standing_exp);
                continue;
            }
        }
        let allowed = match &args {
            // Exact args: the standing policy must hold for them.
            Some(args) => s
                .policy
                .matches(args, &PolicyLimits::default())
                .map_err(|e| e.to_string()),
            // A range: the approval must carry every standing statement itself.
            None => s
                .policy
                .statements()
                .iter()
                .find(|st| !approval.policy.statements().contains(st))
                .map_or(Ok(()), |st| Err(format!("missing {st}"))),
        };
        match allowed {
            Ok(()) => return Ok(bytes.clone()),
            Err(why) => last_problem = ApprovalRefusal::StandingPolicy(why),
        }
    }
    Err(last_problem)
}
