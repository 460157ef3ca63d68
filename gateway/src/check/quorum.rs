//! Quorum: approvals from distinct devices that a route may require.
//!
//! The delegation issued to the agent (the last proof, service → agent) carries in its
//! `meta` the key `"countersign/co-approvals"`: a list of `[standing, approval]` pairs of
//! envelope bytes — an owner → device standing delegation and that device's approval,
//! device → service. The approval inside the chain itself (the proof just before the
//! last, when a device issued it) counts as one.
//!
//! A co-approval counts if both tokens verify; the standing is issued by the chain's
//! subject to the device and the approval by that device to the service that issued the
//! last proof; both name the subject; both commands cover the invoked command; both
//! policies hold for the args; both are current and not revoked; and its device is not
//! one already counted. The owner's own delegation to the service is not an approval:
//! it is how low-risk requests skip the human.

use std::collections::HashSet;

use countersign_core::delegation::Delegation;
use countersign_core::validate::TokenRef;
use countersign_core::{Cid, Did, Validated, Validator, Value};

use crate::error::{ApiError, Kind};

/// The `meta` key of the co-approvals.
pub const CO_APPROVALS: &str = "countersign/co-approvals";

/// Most co-approvals examined.
pub const MAX_CO_APPROVALS: usize = 32;

/// Refuses unless at least `k` distinct devices approved.
pub fn require(
    k: u32,
    validated: &Validated,
    validator: &Validator,
    now: u64,
    revoked: &HashSet<Cid>,
) -> Result<(), ApiError> {
    let (devices, reasons) = count(validated, validator, now, revoked);
    if devices.len() >= k as usize {
        return Ok(());
    }
    let mut message = format!(
        "this route needs approvals from {k} distinct devices; the chain carries {}",
        devices.len()
    );
    for reason in reasons {
        message.push_str("; ");
        message.push_str(&reason);
    }
    Err(ApiError::new(Kind::QuorumNotMet, message))
}

/// The devices whose approvals count, and why the others do not.
pub fn count(
    validated: &Validated,
    validator: &Validator,
    now: u64,
    revoked: &HashSet<Cid>,
) -> (Vec<Did>, Vec<String>) {
    let inv = &validated.invocation;
    let subject = inv.subject;
    let mut devices = Vec::new();
    let mut reasons = Vec::new();
    let [.., approval, last] = validated.proofs.as_slice() else {
        reasons.push("no device approval is in the chain".to_owned());
        return (devices, reasons);
    };
    let service = last.issuer;
    if approval.issuer != subject {
        devices.push(approval.issuer);
    }
    let Some(list) = last.meta.as_ref().and_then(|m| m.get(CO_APPROVALS)) else {
        return (devices, reasons);
    };
    let Some(pairs) = list.as_list() else {
        reasons.push(format!("meta {CO_APPROVALS:?} is not a list"));
        return (devices, reasons);
    };
    if pairs.len() > MAX_CO_APPROVALS {
        reasons.push(format!(
            "only the first {MAX_CO_APPROVALS} of {} co-approvals were examined",
            pairs.len()
        ));
    }
    let args = Value::Map(inv.args.clone());
    for (i, pair) in pairs.iter().take(MAX_CO_APPROVALS).enumerate() {
        let check = Candidate {
            subject,
            service,
            validated,
            validator,
            args: &args,
            now,
            revoked,
        };
        match check.device(pair) {
            Ok(device) if devices.contains(&device) => reasons.push(format!(
                "co-approval {i}: device {device} is already counted"
            )),
            Ok(device) => devices.push(device),
            Err(reason) => reasons.push(format!("co-approval {i}: {reason}")),
        }
    }
    (devices, reasons)
}

struct Candidate<'a> {
    subject: Did,
    service: Did,
    validated: &'a Validated,
    validator: &'a Validator,
    args: &'a Value,
    now: u64,
    revoked: &'a HashSet<Cid>,
}

impl Candidate<'_> {
    /// The device of a `[standing, approval]` pair, if the pair counts.
    fn device(&self, pair: &Value) -> Result<Did, String> {
        let [Value::Bytes(standing), Value::Bytes(approval)] = pair.as_list().unwrap_or(&[]) else {
            return Err("not a [standing, approval] pair of token bytes".into());
        };
        let standing = self.open("the standing delegation", standing)?;
        let approval = self.open("the approval", approval)?;
        let device = approval.issuer;
        if device == self.subject {
            return Err("the approval is issued by the owner, not by a device".into());
        }
        if standing.issuer != self.subject || standing.audience != device {
            return Err(format!(
                "the standing delegation is from {} to {}, not from the owner {} to the \
                 approving device {device}",
                standing.issuer, standing.audience, self.subject
            ));
        }
        if approval.audience != self.service {
            return Err(format!(
                "the approval is addressed to {}, not to the service {}",
                approval.audience, self.service
            ));
        }
        if standing.subject != Some(self.subject) || approval.subject != Some(self.subject) {
            return Err(format!(
                "both tokens must name the subject {}",
                self.subject
            ));
        }
        for (what, d) in [("standing delegation", &standing), ("approval", &approval)] {
            self.covers(what, d)?;
        }
        Ok(device)
    }

    fn open(&self, what: &str, bytes: &[u8]) -> Result<Delegation, String> {
        let cid = Cid::dag_cbor(bytes);
        if self.revoked.contains(&cid) {
            return Err(format!("{what} {cid} has been revoked"));
        }
        let token = TokenRef::Proof(usize::MAX, cid.clone());
        self.validator
            .open_delegation(&token, bytes)
            .map_err(|e| format!("{what} {cid} does not verify: {}", e.kind()))
    }

    /// The token is current and allows the invoked command with these args.
    fn covers(&self, what: &str, d: &Delegation) -> Result<(), String> {
        let inv = &self.validated.invocation;
        if d.expiration.is_some_and(|exp| self.now >= exp) {
            return Err(format!("the {what} has expired"));
        }
        if d.not_before.is_some_and(|nbf| self.now < nbf) {
            return Err(format!("the {what} is not valid yet"));
        }
        if !d.command.proves(&inv.command) {
            return Err(format!(
                "the {what} grants {}, which does not cover {}",
                d.command, inv.command
            ));
        }
        d.policy
            .matches(self.args, &self.validator.limits().policy)
            .map_err(|e| format!("the args violate the policy of the {what}: {e}"))
    }
}
