//! Configuration of the notification channels (`[push]`, `[ntfy]`, `[webhook]`) and of the
//! worker that delivers them (`[notify]`). Every channel is off until configured.

use serde::{Deserialize, Serialize};

use crate::duration::Secs;

/// Web Push (RFC 8030) with VAPID (RFC 8292) and aes128gcm payloads (RFC 8291).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PushConfig {
    /// The operator's contact, sent to push services as the VAPID `sub` claim:
    /// `mailto:…` or `https:…`. Empty: Web Push is off.
    pub contact: String,
    /// Accept `http://` endpoints on 127.0.0.1, [::1] or localhost (tests only).
    pub allow_insecure_endpoints: bool,
}

/// Domains reserved for examples (RFC 2606, RFC 6761): push services refuse them.
const PLACEHOLDER_DOMAINS: &[&str] = &[
    "example.com",
    "example.net",
    "example.org",
    "example",
    "invalid",
    "localhost",
];

impl PushConfig {
    /// Why Web Push cannot be used with this configuration, if it cannot.
    pub fn problem(&self) -> Option<String> {
        let contact = self.contact.trim();
        if contact.is_empty() {
            return Some(
                "Web Push is off: set [push] contact to the operator's mailto: or https: address \
                 (COUNTERSIGN_PUSH__CONTACT)"
                    .into(),
            );
        }
        let host = if let Some(address) = contact.strip_prefix("mailto:") {
            match address.rsplit_once('@') {
                Some((user, host)) if !user.is_empty() => host,
                _ => {
                    return Some(format!(
                        "[push] contact {contact:?} is not a mailto: address"
                    ));
                }
            }
        } else if let Some(rest) = contact.strip_prefix("https://") {
            rest.split(['/', ':', '?', '#']).next().unwrap_or_default()
        } else {
            return Some(format!(
                "[push] contact {contact:?} must start with mailto: or https://"
            ));
        };
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let placeholder = host.is_empty()
            || PLACEHOLDER_DOMAINS
                .iter()
                .any(|d| host == *d || host.ends_with(&format!(".{d}")));
        placeholder.then(|| {
            format!(
                "[push] contact {contact:?} is a placeholder that push services refuse: \
                 set the operator's real address"
            )
        })
    }
}

/// An ntfy server and topic; the access token comes from `COUNTERSIGN_NTFY_TOKEN` or the
/// file `token_file` names, never from this configuration.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct NtfyConfig {
    /// The server, e.g. `https://ntfy.sh`. Empty: ntfy is off.
    pub url: String,
    pub topic: String,
    /// A file holding the access token (optional).
    pub token_file: String,
}

/// A signed JSON webhook; the signing secret comes from `COUNTERSIGN_WEBHOOK_SECRET` or the
/// file `secret_file` names, never from this configuration.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookConfig {
    /// Where to POST. Empty: webhooks are off.
    pub url: String,
    /// A file holding the signing secret (required unless the environment has it).
    pub secret_file: String,
}

/// How the delivery worker retries.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyConfig {
    /// Wait before the first retry; doubles with each attempt, up to `retry_max`.
    pub retry_base: Secs,
    pub retry_max: Secs,
    /// Attempts per delivery before it is recorded as failed.
    pub max_attempts: u32,
    /// Deliveries claimed per round of the worker.
    pub batch: u32,
    /// How long a claimed delivery is reserved for the worker that claimed it.
    pub lease: Secs,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            retry_base: Secs(2),
            retry_max: Secs(300),
            max_attempts: 10,
            batch: 50,
            lease: Secs(60),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::PushConfig;

    fn problem(contact: &str) -> Option<String> {
        PushConfig {
            contact: contact.into(),
            allow_insecure_endpoints: false,
        }
        .problem()
    }

    #[test]
    fn contacts_must_be_real_addresses() {
        assert_eq!(problem("mailto:ops@countersign.dev"), None);
        assert_eq!(problem("https://countersign.dev/contact"), None);
        for bad in [
            "",
            "  ",
            "ops@countersign.dev",
            "mailto:ops@example.com",
            "mailto:ops@mail.EXAMPLE.org",
            "https://example.net/",
            "mailto:@countersign.dev",
            "mailto:ops@localhost",
            "http://countersign.dev",
        ] {
            assert!(problem(bad).is_some(), "{bad:?}");
        }
        assert!(
            problem("mailto:ops@example.com")
                .unwrap()
                .contains("placeholder")
        );
    }
}
