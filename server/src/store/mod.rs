//! Storage: one trait, one implementation per backend, each with its own migrations.
//!
//! The backend is chosen once from the database URL (`sqlite:` or `postgres:`). Every
//! method that changes state has committed durably when it returns `Ok`.

pub mod migrations;
mod model;
pub mod outbox;
pub mod postgres;
mod rows;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use countersign_core::Did;

pub use model::*;
pub use outbox::{
    Channel, ClaimSpec, Delivery, DeliveryEnd, DeliveryState, MessageKind, PushSubscription,
    endpoint_origin,
};

#[derive(Clone, Debug, thiserror::Error)]
pub enum StoreError {
    /// The record does not exist.
    #[error("not found")]
    NotFound,
    /// A unique name or key is taken.
    #[error("already exists")]
    AlreadyExists,
    /// The record is not in a state that allows the change (e.g. already decided).
    #[error("the request is {0}")]
    NotPending(RequestState),
    /// The pairing is not open/claimed as the change requires, or its code expired.
    #[error("pairing is not available")]
    PairingUnavailable,
    /// The agent has too many requests pending.
    #[error("too many pending requests")]
    TooManyPending,
    /// The agent created too many requests in the last minute.
    #[error("rate limit reached")]
    RateLimited,
    /// The database failed; the message is for logs, never for clients.
    #[error("database error: {0}")]
    Database(String),
    /// The database cannot be reached (no connection within the pool's timeout, or the
    /// connection broke): worth retrying. The message is for logs, never for clients.
    #[error("database unavailable: {0}")]
    Unavailable(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::AlreadyExists,
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                StoreError::Unavailable(e.to_string())
            }
            _ => StoreError::Database(e.to_string()),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Database(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The PostgreSQL channel on which every audited change is announced.
pub const CHANGES_CHANNEL: &str = "countersign_changes";

/// A change committed by some process sharing the database: the kind and subject of the
/// audit entry that recorded it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub kind: String,
    pub subject: String,
}

impl Change {
    /// `kind` and `subject` as one notification payload (kinds hold no space).
    pub fn encode(kind: &str, subject: &str) -> String {
        let subject: String = subject.chars().take(512).collect();
        format!("{kind} {subject}")
    }

    pub fn decode(payload: &str) -> Option<Change> {
        let (kind, subject) = payload.split_once(' ')?;
        Some(Change {
            kind: kind.to_owned(),
            subject: subject.to_owned(),
        })
    }
}

/// Changes as they are committed, for as long as the stream is held.
pub type ChangeStream = std::pin::Pin<Box<dyn futures_util::Stream<Item = Change> + Send>>;

#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Checks that the database answers.
    async fn ping(&self) -> Result<()>;

    /// Changes committed by other processes sharing this database (PostgreSQL
    /// LISTEN/NOTIFY), or `None` where one process owns the database (SQLite). Delivery is
    /// best effort: readers re-check the store periodically as well.
    async fn changes(&self) -> Result<Option<ChangeStream>>;

    // Agents.
    async fn add_agent(&self, agent: &Agent, audit: &[AuditEvent]) -> Result<()>;
    async fn list_agents(&self) -> Result<Vec<Agent>>;
    async fn agent_by_did(&self, did: &Did) -> Result<Option<Agent>>;
    /// Removes an agent; `NotFound` if there is none by that name.
    async fn remove_agent(&self, name: &str, audit: &[AuditEvent]) -> Result<()>;

    // Pairing and devices.
    async fn create_pairing(&self, pairing: &Pairing) -> Result<()>;
    async fn pairing(&self, id: &str) -> Result<Option<Pairing>>;
    /// Claims an open, unexpired pairing by its code hash: records the device's key and
    /// name and moves it to `Claimed`. `PairingUnavailable` if no such open pairing.
    async fn claim_pairing(
        &self,
        code_hash: &[u8],
        device: &Did,
        name: &str,
        now: Timestamp,
    ) -> Result<Pairing>;
    /// Confirms a claimed pairing: creates the device with its standing delegations and
    /// moves the pairing to `Confirmed`, in one transaction.
    async fn confirm_pairing(&self, id: &str, device: &Device, audit: &[AuditEvent]) -> Result<()>;
    async fn list_devices(&self) -> Result<Vec<Device>>;
    /// The active (not removed) device with this key.
    async fn device_by_did(&self, did: &Did) -> Result<Option<Device>>;
    /// Marks a device removed and records its standing delegations as revoked, in one
    /// transaction; returns the device with `removed_at` set.
    async fn remove_device(&self, id: &str, now: Timestamp, audit: &[AuditEvent])
    -> Result<Device>;

    // Requests. Every change below that creates a pending request or ends one also
    // records its notification message (`pending`, or `closed` when approved, denied,
    // withdrawn, cancelled or expired) in the same transaction: see `outbox`.
    /// Creates a request unless the agent is over its limits (checked atomically), and
    /// records its `pending` notification message in the same transaction.
    async fn create_request(
        &self,
        request: &Request,
        limits: CreateLimits,
        audit: &[AuditEvent],
    ) -> Result<()>;
    async fn request(&self, id: &str) -> Result<Option<Request>>;
    async fn list_requests(&self, filter: &RequestFilter) -> Result<Vec<Request>>;
    /// Pending → approved, only if still pending and not expired at `approval.at`; records
    /// the `closed` notification message with it (as do `deny`, `withdraw`, `expire_due`,
    /// `kill`, and a decision that finds the request expired).
    /// Exactly one of several racing decisions succeeds; the others get `NotPending`.
    async fn approve(&self, id: &str, approval: &Approval, audit: &[AuditEvent])
    -> Result<Request>;
    /// Pending → denied, under the same rule as `approve`.
    async fn deny(&self, id: &str, denial: &Denial, audit: &[AuditEvent]) -> Result<Request>;
    /// Pending → withdrawn by its agent.
    async fn withdraw(
        &self,
        id: &str,
        agent: &Did,
        now: Timestamp,
        audit: &[AuditEvent],
    ) -> Result<Request>;
    /// Marks every pending request whose time is up as expired, appending one
    /// `request.expired` audit entry (actor `service`) for each; returns their ids.
    async fn expire_due(&self, now: Timestamp) -> Result<Vec<String>>;

    // Notifications (see `outbox`).
    /// Registers a push subscription, or refreshes the keys (and owner) of its endpoint.
    async fn put_push_subscription(&self, subscription: &PushSubscription) -> Result<()>;
    /// Removes a device's subscription; `false` if the device had none with that endpoint.
    async fn remove_push_subscription(&self, device_id: &str, endpoint: &str) -> Result<bool>;
    async fn push_subscriptions(&self, device_id: &str) -> Result<Vec<PushSubscription>>;
    /// Fans waiting messages out into deliveries (at most `spec.limit`), then claims due
    /// deliveries (at most `spec.limit`) for `spec.lease` seconds, counting an attempt for
    /// each. Concurrent callers (on one database) never claim the same delivery while its
    /// lease runs, and a delivery is not claimed while an earlier one of the same request
    /// to the same target is still queued.
    async fn claim_deliveries(&self, spec: &ClaimSpec) -> Result<Vec<Delivery>>;
    /// Queues a claimed delivery again for `next_at`; `false` if the claim was lost (the
    /// lease ran out and another worker claimed it, or it already ended).
    async fn retry_delivery(
        &self,
        delivery: &Delivery,
        next_at: Timestamp,
        error: &str,
    ) -> Result<bool>;
    /// Ends a claimed delivery and appends its audit events in one transaction (for
    /// `Gone`, also removing the subscription). `false`, with nothing changed or
    /// appended, if the claim was lost: an acknowledged delivery is never sent again.
    async fn finish_delivery(
        &self,
        delivery: &Delivery,
        end: &DeliveryEnd,
        now: Timestamp,
        audit: &[AuditEvent],
    ) -> Result<bool>;
    /// Every delivery of a request, oldest first.
    async fn deliveries(&self, request_id: &str) -> Result<Vec<Delivery>>;

    // Revocation and replay.
    async fn is_revoked(&self, cid: &str) -> Result<bool>;
    /// Records a JWT id as used. `false` if it was already used (a replay).
    async fn use_jti(&self, issuer: &Did, jti: &str, expires_at: Timestamp) -> Result<bool>;
    /// Forgets JWT ids whose tokens have expired.
    async fn prune_jtis(&self, now: Timestamp) -> Result<u64>;

    // Audit log. Every method above that takes `audit` appends those events in the same
    // transaction as its change, each entry chained to the previous by hash (see
    // `crate::audit::entry_hash`; the first entry's prev is `GENESIS`). Appends are
    // serialized so the log stays one chain under concurrent writers.
    /// Appends events that accompany no other change (notifications, receipts).
    async fn append_audit(&self, audit: &[AuditEvent]) -> Result<()>;
    /// Appends each event whose id `(issuer, id)` was not recorded before, recording the
    /// ids in the same transaction; answers, in order, whether each was appended. A
    /// statement delivered twice is logged once, and a crash loses neither. `evidence`
    /// (a field name and value: the signed statement itself) is added to the data of the
    /// first event appended.
    async fn append_audit_once(
        &self,
        issuer: &Did,
        expires_at: Timestamp,
        items: &[(String, AuditEvent)],
        evidence: (&str, &str),
    ) -> Result<Vec<bool>>;
    /// Entries with `seq > after`, in order, at most `limit` (0 = 1000).
    async fn audit_entries(&self, after: i64, limit: u32) -> Result<Vec<crate::audit::Entry>>;
    /// The number of entries and the hex hash of the last (GENESIS hex when empty).
    async fn audit_head(&self) -> Result<(i64, String)>;
    async fn add_checkpoint(&self, checkpoint: &crate::audit::Checkpoint) -> Result<()>;
    /// Checkpoints with `count > after`, oldest first.
    async fn checkpoints(&self, after: i64) -> Result<Vec<crate::audit::Checkpoint>>;

    // Tokens and revocation.
    /// Records tokens the service stored or issued (idempotent by CID).
    async fn add_tokens(&self, tokens: &[TokenRecord]) -> Result<()>;
    async fn token(&self, cid: &str) -> Result<Option<TokenRecord>>;
    /// Issued tokens (kind `issued` or `auto`), newest first; with `live_at`, only those
    /// neither expired then nor revoked.
    async fn list_tokens(
        &self,
        agent: Option<&Did>,
        live_at: Option<Timestamp>,
    ) -> Result<Vec<TokenRecord>>;
    /// Revokes a CID: appends it to the feed (and the audit events) unless already revoked.
    /// Returns the new cursor, or `None` if it was already revoked.
    async fn revoke(&self, entry: &RevokedEntry, audit: &[AuditEvent]) -> Result<Option<i64>>;
    /// Feed entries with `cursor > after`, in order, at most `limit` (0 = 1000).
    async fn revocations_after(&self, after: i64, limit: u32) -> Result<Vec<RevokedEntry>>;

    // Kill switch.
    /// In one transaction: revokes every live issued token of the target (feed entries
    /// with reason `kill switch`), cancels its pending requests (state `cancelled`), and
    /// blocks its new requests until lifted.
    async fn kill(
        &self,
        target: KillTarget,
        now: Timestamp,
        audit: &[AuditEvent],
    ) -> Result<KillReport>;
    async fn lift_kill(&self, target: KillTarget, audit: &[AuditEvent]) -> Result<()>;
    /// Whether new requests of this agent are blocked (it, or everyone, is killed).
    async fn is_killed(&self, agent: &Did) -> Result<bool>;
    /// Suspends an agent (as after repeated denials) until the owner resumes it.
    async fn suspend_agent(&self, agent: &Did, now: Timestamp, audit: &[AuditEvent]) -> Result<()>;
    async fn resume_agent(&self, name: &str, audit: &[AuditEvent]) -> Result<()>;
    async fn is_suspended(&self, agent: &Did) -> Result<bool>;
    /// Denials of this agent's requests decided at or after `since`.
    async fn count_denials(&self, agent: &Did, since: Timestamp) -> Result<u64>;
    /// Pending, unexpired requests of all agents.
    async fn count_pending(&self, now: Timestamp) -> Result<u64>;
    /// A pending, unexpired request of this agent with the same command, args, policy and
    /// summary, if any (identical requests are merged).
    async fn find_identical_pending(
        &self,
        request: &Request,
        now: Timestamp,
    ) -> Result<Option<Request>>;

    // Auto-approval.
    async fn add_auto_approval(&self, auto: &AutoApproval, audit: &[AuditEvent]) -> Result<()>;
    /// Not removed and not expired at `now`.
    async fn auto_approvals(&self, now: Timestamp) -> Result<Vec<AutoApproval>>;
    async fn remove_auto_approval(
        &self,
        cid: &str,
        now: Timestamp,
        audit: &[AuditEvent],
    ) -> Result<()>;

    // Quorum.
    async fn add_quorum_rule(&self, rule: &QuorumRule, audit: &[AuditEvent]) -> Result<()>;
    async fn quorum_rules(&self) -> Result<Vec<QuorumRule>>;
    async fn remove_quorum_rule(&self, id: &str, audit: &[AuditEvent]) -> Result<()>;
    /// Records one device's approval of a pending request (one per device: a second from
    /// the same device replaces nothing and returns `AlreadyExists`); returns all
    /// approvals recorded for it so far, oldest first.
    async fn add_partial_approval(
        &self,
        approval: &PartialApproval,
        audit: &[AuditEvent],
    ) -> Result<Vec<PartialApproval>>;
}

/// Opens the store a database URL names and applies its migrations.
pub async fn open(url: &str) -> Result<Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PostgresStore::connect(url).await?))
    } else if url.starts_with("sqlite:") {
        create_private_file(url)?;
        Ok(Arc::new(sqlite::SqliteStore::connect(url).await?))
    } else {
        Err(StoreError::Database(format!(
            "unsupported database URL scheme in {:?}: use sqlite:PATH or postgres://…",
            redact(url)
        )))
    }
}

/// Creates a missing SQLite database file readable by its owner only (SQLite gives its
/// journal files the same mode): it holds capabilities and the audit log.
fn create_private_file(url: &str) -> Result<()> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path.starts_with(':') || std::path::Path::new(path).exists() {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Database(format!("cannot create {path}: {e}"))),
    }
}

/// A database URL with any password replaced, for logs and errors.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!(
                    "{}{}:****{}",
                    &url[..scheme + 3],
                    &userinfo[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redacts_passwords_in_urls() {
        assert_eq!(
            redact("postgres://app:s3cret@db:5432/countersign"),
            "postgres://app:****@db:5432/countersign"
        );
        assert_eq!(redact("postgres://app@db/x"), "postgres://app@db/x");
        assert_eq!(redact("sqlite:/var/lib/cs.db"), "sqlite:/var/lib/cs.db");
    }
}
