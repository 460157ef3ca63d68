//! The delivery worker: claims due deliveries from the outbox, sends them, and ends each
//! with its audit entry (or schedules a retry with exponential backoff).

use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{Value, json};

use super::hooks::{Ntfy, Webhook};
use super::http::Attempt;
use super::message::{CLOSED_TTL, Facts, topic};
use super::push::{Push, PushMessage};
use crate::approval::matching;
use crate::audit::kind;
use crate::state::AppState;
use crate::store::{
    AuditEvent, Channel, ClaimSpec, Delivery, DeliveryEnd, MessageKind, RequestState, StoreError,
    endpoint_origin,
};

/// How often the worker looks for work it was not woken for (other replicas' requests,
/// retries coming due).
const POLL: Duration = Duration::from_secs(1);

/// The channels in use.
#[derive(Clone, Debug, Default)]
pub struct Channels {
    pub push: Option<Push>,
    pub ntfy: Option<Ntfy>,
    pub webhook: Option<Webhook>,
}

/// Sends what the outbox holds.
#[derive(Debug)]
pub struct Notifier {
    state: AppState,
    client: reqwest::Client,
    channels: Channels,
}

/// What one round did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Round {
    pub claimed: usize,
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
    pub skipped: usize,
}

impl Notifier {
    pub fn new(state: AppState, channels: Channels) -> reqwest::Result<Notifier> {
        Ok(Notifier {
            state,
            client: super::http::client()?,
            channels,
        })
    }

    /// Runs rounds until the service stops: at once when this process commits a change
    /// (every new or closed request appends an audit entry), else every [`POLL`].
    pub async fn run(self) {
        let mut changes = self.state.audit_feed.subscribe();
        let mut stopping = self.state.stopping.subscribe();
        let batch = usize::try_from(self.state.config.notify.batch.max(1)).unwrap_or(1);
        loop {
            changes.borrow_and_update();
            let busy = match self.round().await {
                Ok(round) => round.claimed >= batch,
                Err(e) => {
                    tracing::warn!(error = %e, "notification round failed");
                    false
                }
            };
            if self.state.is_stopping() {
                return;
            }
            if busy {
                continue;
            }
            tokio::select! {
                _ = changes.changed() => {}
                _ = stopping.changed() => {}
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// One bounded round: fan out, claim, send concurrently, record the outcomes.
    pub async fn round(&self) -> Result<Round, StoreError> {
        let c = &self.state.config.notify;
        let mut channels = Vec::new();
        if self.channels.ntfy.is_some() {
            channels.push(Channel::Ntfy);
        }
        if self.channels.webhook.is_some() {
            channels.push(Channel::Webhook);
        }
        let spec = ClaimSpec {
            now: self.state.now(),
            lease: secs(c.lease.0),
            limit: c.batch.max(1),
            channels,
        };
        let claimed = self.state.store.claim_deliveries(&spec).await?;
        let mut round = Round {
            claimed: claimed.len(),
            ..Round::default()
        };
        for outcome in join_all(claimed.iter().map(|d| self.deliver(d))).await {
            match outcome? {
                Outcome::Sent => round.sent += 1,
                Outcome::Retried => round.retried += 1,
                Outcome::Failed => round.failed += 1,
                Outcome::Skipped | Outcome::Lost => round.skipped += 1,
            }
        }
        if round.sent + round.failed > 0 {
            self.state.announce(false);
        }
        Ok(round)
    }

    async fn deliver(&self, d: &Delivery) -> Result<Outcome, StoreError> {
        let now = self.state.now();
        let Some(request) = self.state.store.request(&d.request_id).await? else {
            return self
                .end(d, DeliveryEnd::Skipped("no such request".into()), None)
                .await;
        };
        let open = request.state == RequestState::Pending && request.expires_at > now;
        if d.kind == MessageKind::Pending && !open {
            let why = "the request closed before it was sent";
            // Attempts that failed before are worth a record; a first one is not.
            return if d.attempts > 1 {
                let end = DeliveryEnd::Failed(format!("{why}; {}", last_error(d)));
                self.end(d, end, Some(json!({}))).await
            } else {
                self.end(d, DeliveryEnd::Skipped(why.into()), None).await
            };
        }
        let facts = Facts {
            request: &request,
            kind: d.kind,
            number_matching: matching::required(&self.state.config.requests, &request),
            public_url: &self.state.config.public_url(),
        };
        let attempt = match d.channel {
            Channel::Push => {
                let (Some(push), Some(subscription)) = (&self.channels.push, &d.subscription)
                else {
                    let why = if self.channels.push.is_none() {
                        "Web Push is not configured"
                    } else {
                        "the subscription was removed"
                    };
                    return self.end(d, DeliveryEnd::Skipped(why.into()), None).await;
                };
                let payload = facts.push_payload().to_string();
                let message = PushMessage {
                    payload: payload.as_bytes(),
                    ttl: match d.kind {
                        MessageKind::Pending => {
                            u32::try_from(request.expires_at - now).unwrap_or(0)
                        }
                        MessageKind::Closed => CLOSED_TTL,
                    },
                    topic: &topic(&request.id),
                };
                push.send(&self.client, subscription, &message, now).await
            }
            Channel::Ntfy => match &self.channels.ntfy {
                Some(ntfy) => ntfy.send(&self.client, &facts, now).await,
                None => return self.skip_unconfigured(d).await,
            },
            Channel::Webhook => match &self.channels.webhook {
                Some(hook) => {
                    let event = format!("{}.{}", request.id, d.kind.as_str());
                    hook.send(&self.client, &facts, &event, now).await
                }
                None => return self.skip_unconfigured(d).await,
            },
        };
        self.settle(d, attempt, now).await
    }

    /// Records what an attempt came to.
    async fn settle(
        &self,
        d: &Delivery,
        attempt: Attempt,
        now: i64,
    ) -> Result<Outcome, StoreError> {
        match attempt {
            Attempt::Sent { status } => {
                self.end(d, DeliveryEnd::Sent, Some(json!({"status": status})))
                    .await
            }
            Attempt::Gone { error } => {
                let data = json!({"subscription_removed": true});
                self.end(d, DeliveryEnd::Gone(error), Some(data)).await
            }
            Attempt::Failed { error } => {
                self.end(d, DeliveryEnd::Failed(error), Some(json!({})))
                    .await
            }
            Attempt::Retry { error, after } => {
                let c = &self.state.config.notify;
                if d.attempts >= c.max_attempts.max(1) {
                    let end = DeliveryEnd::Failed(format!("gave up: {error}"));
                    return self.end(d, end, Some(json!({}))).await;
                }
                let wait = backoff(secs(c.retry_base.0), secs(c.retry_max.0), d.attempts)
                    .max(after.unwrap_or(0));
                tracing::info!(request = %d.request_id, channel = d.channel.as_str(),
                    attempt = d.attempts, retry_in = wait, error = %error, "notification will be retried");
                let kept = self
                    .state
                    .store
                    .retry_delivery(d, now.saturating_add(wait), &error)
                    .await?;
                Ok(if kept {
                    Outcome::Retried
                } else {
                    Outcome::Lost
                })
            }
        }
    }

    async fn skip_unconfigured(&self, d: &Delivery) -> Result<Outcome, StoreError> {
        let why = format!("{} is not configured", d.channel.as_str());
        self.end(d, DeliveryEnd::Skipped(why), None).await
    }

    /// Ends a delivery; with `audit` data, appends the matching audit entry atomically.
    async fn end(
        &self,
        d: &Delivery,
        end: DeliveryEnd,
        audit: Option<Value>,
    ) -> Result<Outcome, StoreError> {
        let now = self.state.now();
        let outcome = match &end {
            DeliveryEnd::Sent => Outcome::Sent,
            DeliveryEnd::Failed(_) | DeliveryEnd::Gone(_) => Outcome::Failed,
            DeliveryEnd::Skipped(_) => Outcome::Skipped,
        };
        let events: Vec<AuditEvent> = audit
            .map(|extra| audit_event(d, &end, extra, now))
            .into_iter()
            .collect();
        match &end {
            DeliveryEnd::Sent => tracing::info!(request = %d.request_id,
                channel = d.channel.as_str(), message = d.kind.as_str(), "notification sent"),
            DeliveryEnd::Failed(e) | DeliveryEnd::Gone(e) => {
                tracing::warn!(request = %d.request_id,
                channel = d.channel.as_str(), message = d.kind.as_str(), error = %e, "notification failed")
            }
            DeliveryEnd::Skipped(why) => tracing::debug!(request = %d.request_id,
                channel = d.channel.as_str(), reason = %why, "notification skipped"),
        }
        let kept = self
            .state
            .store
            .finish_delivery(d, &end, now, &events)
            .await?;
        Ok(if kept { outcome } else { Outcome::Lost })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Sent,
    Retried,
    Failed,
    Skipped,
    /// The claim ran out and another worker has the delivery now.
    Lost,
}

/// `notification.sent` or `notification.failed`, naming the channel and, for push, the
/// device and the push service (never the endpoint: it is a capability).
fn audit_event(d: &Delivery, end: &DeliveryEnd, extra: Value, now: i64) -> AuditEvent {
    let mut data = json!({
        "channel": d.channel.as_str(),
        "message": d.kind.as_str(),
        "attempts": d.attempts,
    });
    if d.channel == Channel::Push {
        data["push_service"] = json!(endpoint_origin(&d.target));
        if let Some(s) = &d.subscription {
            data["device"] = json!(s.device_id);
        }
    }
    if let Some(error) = end.error() {
        data["error"] = json!(error);
    }
    if let (Value::Object(data), Value::Object(extra)) = (&mut data, extra) {
        data.extend(extra);
    }
    let kind = match end {
        DeliveryEnd::Sent => kind::NOTIFICATION_SENT,
        _ => kind::NOTIFICATION_FAILED,
    };
    AuditEvent::new(now, kind, "service", &d.request_id, data)
}

fn last_error(d: &Delivery) -> String {
    match &d.last_error {
        Some(e) => format!("last error: {e}"),
        None => "no answer recorded".into(),
    }
}

/// `base · 2^(attempts − 1)`, at most `max` (seconds).
pub fn backoff(base: i64, max: i64, attempts: u32) -> i64 {
    let shift = attempts.saturating_sub(1).min(30);
    base.max(1).saturating_mul(1 << shift).min(max.max(1))
}

fn secs(s: u64) -> i64 {
    i64::try_from(s).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let waits: Vec<i64> = (1..=10).map(|n| backoff(2, 300, n)).collect();
        assert_eq!(waits, [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(backoff(0, 0, 0), 1);
        assert_eq!(backoff(2, 300, u32::MAX), 300);
    }
}
