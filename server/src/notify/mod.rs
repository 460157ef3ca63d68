//! Notifications: every pending request reaches the owner's paired devices by Web Push,
//! and optionally an ntfy topic and a signed webhook; a decided or expired request gets a
//! message that closes its notification. None of them can approve anything.
//!
//! Reliability comes from the outbox: the store records each message in the same
//! transaction as the change of the request (see `store::outbox`), and the worker here
//! delivers it — after a crash too — with retries, ending each delivery together with
//! its audit entry.

pub mod config;
mod hooks;
mod http;
mod message;
mod push;
mod vapid;
mod worker;

pub use hooks::{SIGNATURE_HEADER, Secret, sign as sign_webhook};
pub use message::{CLOSED_TTL, topic};
pub use vapid::{FILE_NAME as VAPID_FILE, VapidKey};
pub use worker::{Channels, Notifier, Round, backoff};

use crate::state::AppState;

/// Secrets of the optional channels, which never come from the configuration text.
#[derive(Clone, Debug, Default)]
pub struct Secrets {
    pub ntfy_token: Option<Secret>,
    pub webhook_secret: Option<Secret>,
}

impl Secrets {
    /// `COUNTERSIGN_NTFY_TOKEN` or `[ntfy] token_file`; `COUNTERSIGN_WEBHOOK_SECRET` or
    /// `[webhook] secret_file`.
    pub fn from_env(config: &crate::config::Config) -> anyhow::Result<Secrets> {
        Ok(Secrets {
            ntfy_token: hooks::secret_from("COUNTERSIGN_NTFY_TOKEN", &config.ntfy.token_file)?,
            webhook_secret: hooks::secret_from(
                "COUNTERSIGN_WEBHOOK_SECRET",
                &config.webhook.secret_file,
            )?,
        })
    }
}

/// Why Web Push is unavailable in this service, if it is (said to devices that subscribe).
pub fn push_problem(state: &AppState) -> Option<String> {
    state.config.push.problem().or_else(|| {
        state.vapid_key().is_none().then(|| {
            "Web Push is off: the service has no VAPID key (countersign serve creates one)".into()
        })
    })
}

/// The channels the configuration, the key and the secrets allow; says once, in the log,
/// which are on and why any configured one is not.
pub fn channels(state: &AppState, secrets: Secrets) -> Channels {
    let config = &state.config;
    let push = match (push_problem(state), state.vapid_key()) {
        (None, Some(key)) => Some(push::Push {
            key: key.clone(),
            contact: config.push.contact.trim().to_owned(),
        }),
        (problem, _) => {
            if let Some(problem) = problem {
                tracing::warn!("{problem}");
            }
            None
        }
    };
    let ntfy = (!config.ntfy.url.is_empty()).then(|| hooks::Ntfy {
        url: config.ntfy.url.trim_end_matches('/').to_owned(),
        topic: config.ntfy.topic.clone(),
        token: secrets.ntfy_token,
    });
    let ntfy = ntfy.filter(|_| {
        let ok = !config.ntfy.topic.trim().is_empty();
        if !ok {
            tracing::error!("ntfy is off: [ntfy] url is set but topic is empty");
        }
        ok
    });
    let webhook = match (config.webhook.url.is_empty(), secrets.webhook_secret) {
        (true, _) => None,
        (false, Some(secret)) => Some(hooks::Webhook {
            url: config.webhook.url.clone(),
            secret,
        }),
        (false, None) => {
            tracing::error!(
                "webhooks are off: [webhook] url is set but there is no signing secret \
                 (COUNTERSIGN_WEBHOOK_SECRET or [webhook] secret_file)"
            );
            None
        }
    };
    tracing::info!(
        push = push.is_some(),
        ntfy = ntfy.is_some(),
        webhook = webhook.is_some(),
        "notification channels"
    );
    Channels {
        push,
        ntfy,
        webhook,
    }
}

/// The worker `serve` runs: channels from the configuration and the environment.
pub async fn run(state: AppState) {
    let secrets = match Secrets::from_env(&state.config) {
        Ok(secrets) => secrets,
        Err(e) => {
            tracing::error!(error = %e, "ntfy and webhooks are off");
            Secrets::default()
        }
    };
    let channels = channels(&state, secrets);
    match Notifier::new(state, channels) {
        Ok(notifier) => notifier.run().await,
        Err(e) => tracing::error!(error = %e, "notifications are off: no HTTP client"),
    }
}
