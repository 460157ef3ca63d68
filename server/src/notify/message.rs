//! What a notification says, per channel: a link and a summary, never the args or the diff.

use data_encoding::BASE64URL_NOPAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::store::{MessageKind, Request};

/// Longest summary a notification carries, in characters.
const MAX_SUMMARY: usize = 200;
/// How long a push service keeps a `closed` message for an offline device: long enough
/// to close a notification it already shows when it comes back.
pub const CLOSED_TTL: u32 = 86_400;

/// The facts every channel draws from.
#[derive(Clone, Debug)]
pub struct Facts<'a> {
    pub request: &'a Request,
    pub kind: MessageKind,
    /// Whether the approver must match a number (`approval::matching::required`).
    pub number_matching: bool,
    /// The service's public URL, without a trailing slash.
    pub public_url: &'a str,
}

impl Facts<'_> {
    /// The approver app's page for this request.
    pub fn link(&self) -> String {
        format!("{}/#/requests/{}", self.public_url, self.request.id)
    }

    /// The summary on one line, at most [`MAX_SUMMARY`] characters.
    pub fn summary(&self) -> String {
        one_line(&self.request.summary, MAX_SUMMARY)
    }

    /// The Web Push payload (JSON, encrypted on the way).
    pub fn push_payload(&self) -> Value {
        match self.kind {
            MessageKind::Pending => json!({
                "type": "pending",
                "id": self.request.id,
                "agent": one_line(&self.request.agent_name, 64),
                "summary": self.summary(),
                "expires_at": self.request.expires_at,
                "number_matching": self.number_matching,
            }),
            MessageKind::Closed => json!({
                "type": "closed",
                "id": self.request.id,
                "state": self.request.state.as_str(),
            }),
        }
    }

    /// The webhook body: `request.pending` or `request.closed`.
    pub fn webhook_body(&self) -> Value {
        let mut body = json!({
            "type": match self.kind {
                MessageKind::Pending => "request.pending",
                MessageKind::Closed => "request.closed",
            },
            "id": self.request.id,
            "agent": self.request.agent_name,
            "summary": self.summary(),
            "expires_at": self.request.expires_at,
            "url": self.link(),
        });
        if self.kind == MessageKind::Closed {
            body["state"] = json!(self.request.state.as_str());
        }
        body
    }

    /// The ntfy message (JSON publishing): title, text, high priority, and a `view` action
    /// that opens the approver app on the request.
    pub fn ntfy_body(&self, topic: &str, now: i64) -> Value {
        let minutes = ((self.request.expires_at - now).max(0) + 59) / 60;
        let mut text = format!(
            "{} asks to run {}. Expires in {minutes} min.",
            one_line(&self.request.agent_name, 64),
            self.request.command
        );
        if self.number_matching {
            text.push_str(" Have the requester's code ready.");
        }
        json!({
            "topic": topic,
            "title": self.summary(),
            "message": text,
            "priority": 4,
            "tags": ["countersign"],
            "click": self.link(),
            "actions": [{"action": "view", "label": "Review", "url": self.link(), "clear": true}],
        })
    }
}

/// The Web Push `Topic` of a request's messages: 32 URL-safe base64 characters derived
/// from its id, so a `closed` message replaces a `pending` one the service still holds.
pub fn topic(request_id: &str) -> String {
    let digest = Sha256::digest(format!("countersign-topic\0{request_id}").as_bytes());
    BASE64URL_NOPAD.encode(&digest[..24])
}

/// `text` with line breaks and controls as spaces, cut to `max` characters.
fn one_line(text: &str, max: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let flat = flat.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        return flat;
    }
    let mut cut: String = flat.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{RequestState, tests_support};

    #[test]
    fn payloads_carry_no_args_and_topics_fit() {
        let mut r = tests_support::request();
        r.args = Some(json!({"secret_arg": 1}));
        r.diff = Some(json!({"text": "secret diff"}));
        r.summary = "Refund\n49.00 ".repeat(40);
        let facts = Facts {
            request: &r,
            kind: MessageKind::Pending,
            number_matching: true,
            public_url: "https://cs.test",
        };
        let push = facts.push_payload().to_string();
        assert!(!push.contains("secret"), "{push}");
        assert_eq!(facts.summary().chars().count(), MAX_SUMMARY);
        assert!(!facts.summary().contains('\n'));
        assert_eq!(facts.push_payload()["number_matching"], true);
        assert_eq!(facts.link(), "https://cs.test/#/requests/req_test");
        let ntfy = facts.ntfy_body("t", 0);
        assert_eq!(ntfy["actions"][0]["url"], facts.link());
        assert!(ntfy["message"].as_str().unwrap().contains("5 min"));
        let t = topic(&r.id);
        assert_eq!(t.len(), 32);
        assert!(
            t.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(t, topic("req_other"));
        r.state = RequestState::Approved;
        let closed = Facts {
            request: &r,
            kind: MessageKind::Closed,
            number_matching: false,
            public_url: "https://cs.test",
        };
        assert_eq!(
            closed.push_payload(),
            json!({"type": "closed", "id": "req_test", "state": "approved"})
        );
        assert_eq!(closed.webhook_body()["type"], "request.closed");
    }
}
