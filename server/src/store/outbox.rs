//! The notification outbox as the store keeps it: devices' push subscriptions, the
//! messages recorded with each change of a request, and their deliveries to targets.
//!
//! A message (`pending` when a request is created, `closed` when it is decided, withdrawn,
//! cancelled or expires) is inserted in the same transaction as that change, so none is
//! lost. The worker later fans each message out into one delivery per target, claims
//! deliveries with a lease, and ends each with one call that also appends its audit entry.

use super::Timestamp;
use super::rows::{Columns, corrupt};
use crate::store::Result;

/// A Web Push subscription of a paired device (the browser's `PushSubscription`).
#[derive(Clone, PartialEq, Eq)]
pub struct PushSubscription {
    /// The push service's URL for this subscription; a capability, kept out of logs.
    pub endpoint: String,
    pub device_id: String,
    /// The browser's P-256 public key, uncompressed (65 bytes).
    pub p256dh: Vec<u8>,
    /// The browser's authentication secret (16 bytes).
    pub auth: Vec<u8>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl std::fmt::Debug for PushSubscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushSubscription")
            .field("endpoint", &endpoint_origin(&self.endpoint))
            .field("device_id", &self.device_id)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish_non_exhaustive()
    }
}

/// `scheme://host[:port]` of an endpoint: what logs and the audit log may show of it.
pub fn endpoint_origin(endpoint: &str) -> &str {
    let start = endpoint.find("://").map_or(0, |i| i + 3);
    match endpoint[start..].find('/') {
        Some(slash) => &endpoint[..start + slash],
        None => endpoint,
    }
}

/// Which message of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// The request waits for a decision.
    Pending,
    /// The request was decided, withdrawn, cancelled or expired: close its notification.
    Closed,
}

/// Where a delivery goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Channel {
    /// One push subscription (the delivery's target is its endpoint).
    Push,
    Ntfy,
    Webhook,
}

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeliveryState {
    /// Waiting for (another) attempt.
    Queued,
    Sent,
    /// Given up on, with a `notification.failed` audit entry.
    Failed,
    /// Not sent because it no longer mattered (the request closed first, the subscription
    /// went away); nothing was sent, nothing is audited.
    Skipped,
}

macro_rules! text_enum {
    ($ty:ident { $($variant:ident = $text:literal),* $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $text),* }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($ty::$variant),)* _ => None }
            }
        }
    };
}

text_enum!(MessageKind { Pending = "pending", Closed = "closed" });
text_enum!(Channel { Push = "push", Ntfy = "ntfy", Webhook = "webhook" });
text_enum!(DeliveryState {
    Queued = "queued",
    Sent = "sent",
    Failed = "failed",
    Skipped = "skipped",
});

/// One claim of the worker: fan out waiting messages, then reserve due deliveries.
#[derive(Clone, Debug)]
pub struct ClaimSpec {
    pub now: Timestamp,
    /// Seconds the claimed deliveries stay reserved for this worker.
    pub lease: i64,
    /// At most this many messages fanned out and deliveries claimed.
    pub limit: u32,
    /// The configured channels besides push (`Ntfy`, `Webhook`): each pending message
    /// gets one delivery per channel here, and one per active push subscription.
    pub channels: Vec<Channel>,
}

/// One message to one target.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery {
    pub id: i64,
    pub request_id: String,
    pub kind: MessageKind,
    pub channel: Channel,
    /// The push endpoint; empty for ntfy and webhooks.
    pub target: String,
    pub state: DeliveryState,
    /// Claims so far. A claim is identified by `(id, attempts)`: a worker whose lease ran
    /// out and was claimed again can no longer end or reschedule the delivery.
    pub attempts: u32,
    pub next_at: Timestamp,
    pub last_error: Option<String>,
    pub done_at: Option<Timestamp>,
    /// For a claimed push delivery: its subscription, if it still exists for an active
    /// device.
    pub subscription: Option<PushSubscription>,
}

/// How a claimed delivery ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeliveryEnd {
    Sent,
    /// Given up on.
    Failed(String),
    /// Given up on because the push service says the subscription is gone (404/410): the
    /// subscription is removed in the same transaction.
    Gone(String),
    /// Not sent, because it no longer mattered.
    Skipped(String),
}

impl DeliveryEnd {
    pub fn state(&self) -> DeliveryState {
        match self {
            DeliveryEnd::Sent => DeliveryState::Sent,
            DeliveryEnd::Failed(_) | DeliveryEnd::Gone(_) => DeliveryState::Failed,
            DeliveryEnd::Skipped(_) => DeliveryState::Skipped,
        }
    }

    /// Why it was not sent, if it was not.
    pub fn error(&self) -> Option<&str> {
        match self {
            DeliveryEnd::Sent => None,
            DeliveryEnd::Failed(e) | DeliveryEnd::Gone(e) | DeliveryEnd::Skipped(e) => Some(e),
        }
    }
}

pub(in crate::store) fn subscription(row: &impl Columns) -> Result<PushSubscription> {
    Ok(PushSubscription {
        endpoint: row.text("endpoint")?,
        device_id: row.text("device_id")?,
        p256dh: row.bytes("p256dh")?,
        auth: row.bytes("auth")?,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
    })
}

/// A delivery row, with the subscription columns (`s_…`) of a `LEFT JOIN` when present.
pub(in crate::store) fn delivery(row: &impl Columns) -> Result<Delivery> {
    let channel = Channel::parse(&row.text("channel")?).ok_or_else(|| corrupt("channel"))?;
    let target = row.text("target")?;
    let subscription = match row.opt_text("s_device_id")? {
        Some(device_id) => Some(PushSubscription {
            endpoint: target.clone(),
            device_id,
            p256dh: row.opt_bytes("s_p256dh")?.unwrap_or_default(),
            auth: row.opt_bytes("s_auth")?.unwrap_or_default(),
            created_at: row.opt_int("s_created_at")?.unwrap_or_default(),
            updated_at: row.opt_int("s_updated_at")?.unwrap_or_default(),
        }),
        None => None,
    };
    Ok(Delivery {
        id: row.int("id")?,
        request_id: row.text("request_id")?,
        kind: MessageKind::parse(&row.text("kind")?).ok_or_else(|| corrupt("kind"))?,
        channel,
        target,
        state: DeliveryState::parse(&row.text("state")?).ok_or_else(|| corrupt("state"))?,
        attempts: u32::try_from(row.int("attempts")?).map_err(|_| corrupt("attempts"))?,
        next_at: row.int("next_at")?,
        last_error: row.opt_text("last_error")?,
        done_at: row.opt_int("done_at")?,
        subscription,
    })
}

/// The columns that read a delivery with its subscription (`d` deliveries, `s` subscriptions
/// of active devices).
pub(in crate::store) const DELIVERY_SELECT: &str = "SELECT d.id, d.request_id, d.kind,
        d.channel, d.target, d.state, d.attempts, d.next_at, d.last_error, d.done_at,
        s.device_id AS s_device_id, s.p256dh AS s_p256dh, s.auth AS s_auth,
        s.created_at AS s_created_at, s.updated_at AS s_updated_at
    FROM deliveries d
    LEFT JOIN push_subscriptions s ON d.channel = 'push' AND s.endpoint = d.target
        AND EXISTS (SELECT 1 FROM devices v WHERE v.id = s.device_id AND v.removed_at IS NULL)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_round_trip_and_origins_hide_paths() {
        for k in [MessageKind::Pending, MessageKind::Closed] {
            assert_eq!(MessageKind::parse(k.as_str()), Some(k));
        }
        for c in [Channel::Push, Channel::Ntfy, Channel::Webhook] {
            assert_eq!(Channel::parse(c.as_str()), Some(c));
        }
        assert_eq!(DeliveryState::parse("nope"), None);
        assert_eq!(
            endpoint_origin("https://push.example.net:8443/wpush/v2/secret"),
            "https://push.example.net:8443"
        );
        assert_eq!(endpoint_origin("https://push.test"), "https://push.test");
    }
}
