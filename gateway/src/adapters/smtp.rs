//! The SMTP adapter (`/email/send`): `to`, `cc`, `subject`, `text` and optional `html`
//! from the args; the sender, the relay and its password from the configuration.

use std::fmt;
use std::time::Duration;

use countersign_core::{Map, Value};
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::json;

use super::{Upstream, text_arg};
use crate::config::{SmtpConfig, SmtpTls};
use crate::error::Kind;
use crate::store::Outcome;

/// A message built from the args.
#[derive(Debug, Clone, PartialEq)]
pub struct EmailRequest {
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
}

pub struct SmtpAdapter {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    host: String,
    max_recipients: usize,
}

impl fmt::Debug for SmtpAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpAdapter")
            .field("host", &self.host)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpAdapter {
    pub fn new(config: &SmtpConfig) -> anyhow::Result<SmtpAdapter> {
        let tls = match config.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::Starttls => {
                Tls::Required(TlsParameters::builder(config.host.clone()).build_rustls()?)
            }
            SmtpTls::Tls => {
                Tls::Wrapper(TlsParameters::builder(config.host.clone()).build_rustls()?)
            }
        };
        let port = config.port.unwrap_or(match config.tls {
            SmtpTls::None => 25,
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
        });
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.clone())
                .port(port)
                .tls(tls)
                .timeout(Some(Duration::from_secs(config.timeout.0)));
        if let (Some(user), Some(password)) = (&config.username, &config.password) {
            let secret = password.resolve().map_err(anyhow::Error::msg)?;
            builder =
                builder.credentials(Credentials::new(user.clone(), secret.expose().to_owned()));
        }
        Ok(SmtpAdapter {
            transport: builder.build(),
            from: config.from.parse()?,
            host: config.host.clone(),
            max_recipients: config.max_recipients,
        })
    }

    pub fn prepare(&self, args: &Map) -> Result<EmailRequest, String> {
        let to = mailboxes(args, "to", true)?;
        let cc = mailboxes(args, "cc", false)?;
        if to.len() + cc.len() > self.max_recipients {
            return Err(format!(
                "{} recipients; this route sends to at most {}",
                to.len() + cc.len(),
                self.max_recipients
            ));
        }
        let subject = text_arg(args, "subject", true)?.unwrap_or_default();
        if subject.contains(['\r', '\n']) {
            return Err(".subject may not contain line breaks".into());
        }
        Ok(EmailRequest {
            to,
            cc,
            subject: subject.to_owned(),
            text: text_arg(args, "text", true)?.unwrap_or_default().to_owned(),
            html: text_arg(args, "html", false)?.map(str::to_owned),
        })
    }

    pub async fn call(&self, email: EmailRequest) -> Upstream {
        let message = match self.message(email) {
            Ok(m) => m,
            Err(e) => {
                return Upstream::failed(
                    Outcome::UpstreamError,
                    Kind::InvalidArgs,
                    format!("the message cannot be built: {e}"),
                );
            }
        };
        match self.transport.send(message).await {
            Ok(response) => Upstream {
                outcome: Outcome::Ok,
                status: u16::from(response.code()),
                body: json!({"message": response.message().collect::<Vec<_>>().join("\n")}),
                truncated: false,
                failure: None,
            },
            Err(e) => {
                // lettre's errors carry no credential; the reply text may help.
                tracing::warn!(error = %e, host = %self.host, "SMTP delivery failed");
                match e.status() {
                    Some(code) => Upstream {
                        outcome: Outcome::UpstreamError,
                        status: u16::from(code),
                        body: json!({"message": e.to_string()}),
                        truncated: false,
                        failure: None,
                    },
                    None if e.is_timeout() => Upstream::failed(
                        Outcome::Unknown,
                        Kind::UpstreamTimeout,
                        "the mail relay did not answer in time; whether it took the message is unknown",
                    ),
                    None => Upstream::failed(
                        Outcome::Unknown,
                        Kind::UpstreamUnavailable,
                        "the mail relay could not be reached or failed; whether it took the message is unknown",
                    ),
                }
            }
        }
    }

    fn message(&self, email: EmailRequest) -> Result<Message, lettre::error::Error> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(email.subject);
        for to in email.to {
            builder = builder.to(to);
        }
        for cc in email.cc {
            builder = builder.cc(cc);
        }
        match email.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(email.text, html)),
            None => builder.header(ContentType::TEXT_PLAIN).body(email.text),
        }
    }
}

/// One address or a list of them.
fn mailboxes(args: &Map, key: &str, required: bool) -> Result<Vec<Mailbox>, String> {
    let parse = |v: &Value| match v {
        Value::String(s) => s
            .parse::<Mailbox>()
            .map_err(|e| format!(".{key}: {s:?} is not an email address: {e}")),
        other => Err(format!(".{key} must hold strings, not a {}", other.kind())),
    };
    let list = match args.get(key) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::List(items)) => items.iter().map(parse).collect::<Result<_, _>>()?,
        Some(one) => vec![parse(one)?],
    };
    if required && list.is_empty() {
        return Err(format!(".{key} is required: one address or a list"));
    }
    Ok(list)
}
