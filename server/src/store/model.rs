//! The records the service keeps: agents, devices, pairings, requests, and their states.

use countersign_core::{Command, Did};
use serde_json::Value as Json;

/// Unix time in seconds, as stored.
pub type Timestamp = i64;

/// A registered agent: who may ask for what, and how often.
#[derive(Clone, Debug, PartialEq)]
pub struct Agent {
    pub name: String,
    pub did: Did,
    /// Command prefixes this agent may request.
    pub allow: Vec<Command>,
    /// Most requests it may have pending at once.
    pub max_pending: u32,
    /// Most requests it may create per minute.
    pub rate_per_min: u32,
    pub created_at: Timestamp,
}

/// A paired approver device and the owner's standing delegations to it.
#[derive(Clone, Debug, PartialEq)]
pub struct Device {
    pub id: String,
    pub name: String,
    pub did: Did,
    /// Owner → device delegations (envelope bytes): what this device may approve.
    pub standing: Vec<Vec<u8>>,
    pub created_at: Timestamp,
    pub removed_at: Option<Timestamp>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PairingState {
    /// Created by the owner; waiting for a device to claim the code.
    Open,
    /// A device registered its key; waiting for the owner to confirm.
    Claimed,
    /// The owner signed the standing delegation; the device is paired.
    Confirmed,
}

impl PairingState {
    pub fn as_str(self) -> &'static str {
        match self {
            PairingState::Open => "open",
            PairingState::Claimed => "claimed",
            PairingState::Confirmed => "confirmed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(PairingState::Open),
            "claimed" => Some(PairingState::Claimed),
            "confirmed" => Some(PairingState::Confirmed),
            _ => None,
        }
    }
}

/// A one-time pairing, from the owner's `device pair` to the confirmed device.
#[derive(Clone, Debug, PartialEq)]
pub struct Pairing {
    pub id: String,
    /// SHA-256 of the one-time code; the code itself is never stored.
    pub code_hash: Vec<u8>,
    pub name: Option<String>,
    /// Commands the device will be allowed to approve.
    pub allow: Vec<Command>,
    /// Policy (JSON statements) of the standing delegation.
    pub policy: Json,
    /// Lifetime of the standing delegation, in seconds.
    pub device_lifetime: u64,
    pub created_at: Timestamp,
    /// The code can be claimed until then.
    pub expires_at: Timestamp,
    pub state: PairingState,
    pub device_did: Option<Did>,
    pub device_name: Option<String>,
    /// Set once confirmed.
    pub device_id: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RequestState {
    Pending,
    Approved,
    Denied,
    Expired,
    Withdrawn,
    /// Cancelled by the kill switch.
    Cancelled,
}

impl RequestState {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Pending => "pending",
            RequestState::Approved => "approved",
            RequestState::Denied => "denied",
            RequestState::Expired => "expired",
            RequestState::Withdrawn => "withdrawn",
            RequestState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(RequestState::Pending),
            "approved" => Some(RequestState::Approved),
            "denied" => Some(RequestState::Denied),
            "expired" => Some(RequestState::Expired),
            "withdrawn" => Some(RequestState::Withdrawn),
            "cancelled" => Some(RequestState::Cancelled),
            _ => None,
        }
    }

    pub fn is_final(self) -> bool {
        self != RequestState::Pending
    }
}

impl std::fmt::Display for RequestState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An agent's request for a capability, and what became of it.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub id: String,
    pub agent_name: String,
    pub agent_did: Did,
    pub command: Command,
    pub subject: Did,
    /// The exact arguments (DAG-JSON), when the agent named them.
    pub args: Option<Json>,
    /// The policy (JSON statements) the issued capability will carry.
    pub policy: Json,
    pub summary: String,
    pub reason: String,
    /// The side effects, for the approver: `{"fields": [...], "text": "..."}`.
    pub diff: Option<Json>,
    /// Requested lifetime of the capability, in seconds.
    pub lifetime: u64,
    /// Short code for number matching, shown to the requester.
    pub code: String,
    pub created_at: Timestamp,
    /// Undecided requests expire then.
    pub expires_at: Timestamp,
    pub state: RequestState,
    pub decided_at: Option<Timestamp>,
    /// The device that approved or denied.
    pub decided_by: Option<Did>,
    pub denial_reason: Option<String>,
    /// The device's signed decision: the approval envelope, or the denial statement.
    pub evidence: Option<Vec<u8>>,
    /// Approved: the chain the agent receives, root first (standing, approval, issued).
    pub chain: Vec<Vec<u8>>,
}

/// An approval, ready to commit: the device's envelope and the chain it yields.
#[derive(Clone, Debug)]
pub struct Approval {
    pub device: Did,
    pub at: Timestamp,
    pub envelope: Vec<u8>,
    pub chain: Vec<Vec<u8>>,
    /// CID (text) and expiry of the token issued to the agent.
    pub issued_cid: String,
    pub issued_expires_at: Timestamp,
    /// The tokens of the chain, recorded (with who may revoke each) in the same
    /// transaction.
    pub tokens: Vec<TokenRecord>,
}

/// A denial, ready to commit.
#[derive(Clone, Debug)]
pub struct Denial {
    pub device: Did,
    pub at: Timestamp,
    pub reason: String,
    pub statement: Vec<u8>,
}

/// Limits checked atomically with a request's creation.
#[derive(Clone, Copy, Debug)]
pub struct CreateLimits {
    pub max_pending: u32,
    pub rate_per_min: u32,
}

/// Which requests to list.
#[derive(Clone, Debug, Default)]
pub struct RequestFilter {
    pub state: Option<RequestState>,
    pub agent_did: Option<Did>,
    pub limit: u32,
}

/// An audit event, appended to the hash-chained log in the same transaction as the change
/// it records.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEvent {
    pub at: Timestamp,
    /// One of `crate::audit::kind`.
    pub kind: String,
    /// Who caused it: a DID, or `service`.
    pub actor: String,
    /// What it is about: a request id, a CID, an agent name…
    pub subject: String,
    pub data: Json,
}

impl AuditEvent {
    pub fn new(
        at: Timestamp,
        kind: &str,
        actor: impl ToString,
        subject: impl Into<String>,
        data: Json,
    ) -> Self {
        AuditEvent {
            at,
            kind: kind.to_owned(),
            actor: actor.to_string(),
            subject: subject.into(),
            data,
        }
    }
}

/// A revoked CID as the feed publishes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevokedEntry {
    /// Strictly increasing position in the feed.
    pub cursor: i64,
    pub cid: String,
    pub revoked_at: Timestamp,
    pub revoked_by: String,
    pub reason: String,
    /// The signed record (JSON), when a principal revoked it.
    pub record: Option<String>,
}

/// A token the service stored or issued, and who may revoke it.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenRecord {
    pub cid: String,
    /// `standing` (owner → device), `approval` (device → service), `issued` (service →
    /// agent after an approval), `auto_standing` (owner → service auto-approval), `auto`
    /// (service → agent under an auto-approval).
    pub kind: String,
    pub issuer: Did,
    pub audience: Did,
    pub command: String,
    pub request_id: Option<String>,
    pub agent_did: Option<Did>,
    pub issued_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    /// Every issuer in the token's chain, root first: each may revoke it.
    pub revokers: Vec<Did>,
    pub revoked_at: Option<Timestamp>,
    pub bytes: Vec<u8>,
}

/// Whom the kill switch targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KillTarget {
    Agent(Did),
    All,
}

/// What one pull of the kill switch touched.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KillReport {
    pub tokens_revoked: u64,
    pub requests_cancelled: u64,
}

/// An owner → service standing delegation for low-risk commands.
#[derive(Clone, Debug, PartialEq)]
pub struct AutoApproval {
    pub cid: String,
    pub command: String,
    pub bytes: Vec<u8>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub removed_at: Option<Timestamp>,
}

/// k approvals from distinct devices for a command prefix, optionally only when a policy
/// matches the request's args.
#[derive(Clone, Debug, PartialEq)]
pub struct QuorumRule {
    pub id: String,
    pub command: String,
    /// Policy statements (JSON); empty means always.
    pub when: Json,
    pub approvals: u32,
    pub created_at: Timestamp,
}

/// One device's approval of a request that waits for a quorum.
#[derive(Clone, Debug, PartialEq)]
pub struct PartialApproval {
    pub request_id: String,
    pub device: Did,
    pub envelope: Vec<u8>,
    pub standing: Vec<u8>,
    pub at: Timestamp,
}

/// A plain request record for unit tests elsewhere in the crate.
#[cfg(test)]
pub mod tests_support {
    use super::*;

    pub fn request() -> Request {
        let did = countersign_core::Keypair::from_seed(&[4; 32]).did();
        Request {
            id: "req_test".into(),
            agent_name: "bot".into(),
            agent_did: did,
            command: Command::top(),
            subject: did,
            args: None,
            policy: Json::Array(Vec::new()),
            summary: "s".into(),
            reason: String::new(),
            diff: None,
            lifetime: 60,
            code: "47".into(),
            created_at: 0,
            expires_at: 300,
            state: RequestState::Pending,
            decided_at: None,
            decided_by: None,
            denial_reason: None,
            evidence: None,
            chain: Vec::new(),
        }
    }
}
