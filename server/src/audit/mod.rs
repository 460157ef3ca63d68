//! The tamper-evident audit log: hash-chained entries and signed checkpoints, and the
//! offline verification of an export. Pure: the store appends, this module defines what
//! is hashed and signed, and checks it.

mod chain;
mod verify;

pub use chain::{Checkpoint, Entry, GENESIS, checkpoint_message, entry_hash, hex};
pub use verify::{ExportLine, FORMAT, Header, Problem, Summary, verify_export, write_export};

/// What kind of event an entry records.
pub mod kind {
    pub const REQUEST_CREATED: &str = "request.created";
    pub const REQUEST_MERGED: &str = "request.merged";
    pub const REQUEST_EXPIRED: &str = "request.expired";
    pub const REQUEST_WITHDRAWN: &str = "request.withdrawn";
    pub const APPROVAL: &str = "approval";
    pub const AUTO_APPROVAL: &str = "auto_approval";
    pub const DENIAL: &str = "denial";
    pub const ISSUANCE: &str = "issuance";
    pub const REVOCATION: &str = "revocation";
    pub const KILL: &str = "kill_switch";
    pub const KILL_LIFTED: &str = "kill_switch.lifted";
    pub const AGENT_ADDED: &str = "agent.added";
    pub const AGENT_REMOVED: &str = "agent.removed";
    pub const AGENT_SUSPENDED: &str = "agent.suspended";
    pub const DEVICE_PAIRED: &str = "device.paired";
    pub const DEVICE_REMOVED: &str = "device.removed";
    pub const NOTIFICATION_SENT: &str = "notification.sent";
    pub const NOTIFICATION_FAILED: &str = "notification.failed";
    pub const RECEIPT: &str = "gateway.receipt";
    pub const QUORUM_ADDED: &str = "quorum.added";
    pub const QUORUM_REMOVED: &str = "quorum.removed";
}
