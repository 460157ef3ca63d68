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
}

impl RequestState {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Pending => "pending",
            RequestState::Approved => "approved",
            RequestState::Denied => "denied",
            RequestState::Expired => "expired",
            RequestState::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(RequestState::Pending),
            "approved" => Some(RequestState::Approved),
            "denied" => Some(RequestState::Denied),
            "expired" => Some(RequestState::Expired),
            "withdrawn" => Some(RequestState::Withdrawn),
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
