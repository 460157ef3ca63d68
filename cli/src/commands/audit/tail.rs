//! `countersign audit tail`: follow the audit log as the service writes it, over its
//! server-sent events, reconnecting where it left off.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use clap::Args;
use countersign_server::audit::Entry;
use countersign_server::auth::jwt;
use data_encoding::HEXLOWER;
use serde::Deserialize;
use serde_json::Value as Json;

use crate::client::{self, Client, Refused, refusal, typed};
use crate::commands::show::{at, short_did};
use crate::output::{Output, clean};
use crate::{keyfile, system};

/// Lifetime of the token that opens one stream.
const TOKEN_LIFETIME: i64 = 60;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The service sends a keep-alive every 10 seconds: this much silence means the
/// connection is gone.
const SILENCE: Duration = Duration::from_secs(45);
/// Longest line of the event stream accepted.
const MAX_LINE: usize = 4 * 1024 * 1024;
/// Pause before reconnecting, growing with failures up to the last.
const BACKOFF: [u64; 6] = [1, 2, 4, 8, 15, 30];
/// Longest shown value of one field of an entry's data, and of the whole summary.
const MAX_VALUE: usize = 60;
const MAX_SUMMARY: usize = 200;
/// Fields of an entry's data that carry signatures or tokens: too long to show.
const HIDDEN: [&str; 4] = ["envelope", "statement", "receipt", "record"];

#[derive(Debug, Args)]
pub struct TailArgs {
    /// Print the entries after this one first (default: only new entries).
    #[arg(long, value_name = "SEQ")]
    after: Option<u32>,
    /// The owner's key (default: the one `countersign init` created).
    #[arg(long)]
    key: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
struct Page {
    entries: Vec<Entry>,
    next: i64,
}

impl TailArgs {
    pub fn run(self, output: Output, service: &str) -> anyhow::Result<ExitCode> {
        let key = keyfile::owner(self.key.as_deref())?;
        client::runtime()?.block_on(async {
            let client = Client::connect(service, key).await?;
            let mut after = match self.after {
                Some(seq) => i64::from(seq),
                None => end_of_log(&client).await?,
            };
            if output == Output::Text {
                eprintln!("following the audit log after entry {after} (interrupt to stop)");
            }
            let stream = Stream::new(service)?;
            let mut failures = 0usize;
            loop {
                let before = after;
                let ended = stream
                    .follow(&client, after, |entry| {
                        after = entry.seq;
                        print_entry(&client, entry, output);
                    })
                    .await;
                if after > before {
                    failures = 0;
                }
                let why = match ended {
                    Ok(()) => "the event stream ended".to_owned(),
                    // A refusal other than a failure of the service will not change.
                    Err(e) if refusal(&e).is_some_and(|r| r.status < 500) => return Err(e),
                    Err(e) => crate::one_line(&e),
                };
                if output == Output::Text {
                    eprintln!("{why}; reconnecting after entry {after}");
                }
                let pause = BACKOFF[failures.min(BACKOFF.len() - 1)];
                failures += 1;
                tokio::time::sleep(Duration::from_secs(pause)).await;
            }
        })
    }
}

/// The sequence number of the last entry, read page by page.
async fn end_of_log(client: &Client) -> anyhow::Result<i64> {
    let mut after = 0;
    loop {
        let page: Page = typed(client.get(&format!("/v1/audit?after={after}")).await?)?;
        let next = page.entries.last().map_or(page.next, |e| e.seq);
        if next <= after {
            return Ok(after);
        }
        after = next;
    }
}

/// The HTTP client and URL of the event stream.
#[derive(Debug)]
struct Stream {
    http: reqwest::Client,
    url: String,
}

impl Stream {
    fn new(base: &str) -> anyhow::Result<Stream> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("countersign/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot set up the HTTP client")?;
        Ok(Stream {
            http,
            url: format!("{}/v1/audit/events", base.trim_end_matches('/')),
        })
    }

    /// Reads the stream from `after` on, calling `each` for every entry, until it ends or
    /// fails.
    async fn follow(
        &self,
        client: &Client,
        after: i64,
        mut each: impl FnMut(&Entry),
    ) -> anyhow::Result<()> {
        let mut response = self
            .http
            .get(format!("{}?after={after}", self.url))
            .bearer_auth(token(client)?)
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .send()
            .await
            .map_err(|e| anyhow!("cannot reach the service: {}", innermost(&e)))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.bytes().await.unwrap_or_default();
            return Err(refused(status.as_u16(), &body));
        }
        let mut events = Events::default();
        let mut last = after;
        loop {
            let chunk = match tokio::time::timeout(SILENCE, response.chunk()).await {
                Err(_) => bail!("the event stream went silent"),
                Ok(Err(e)) => bail!("the event stream broke: {}", innermost(&e)),
                Ok(Ok(None)) => return Ok(()),
                Ok(Ok(Some(chunk))) => chunk,
            };
            for (name, data) in events.feed(&chunk)? {
                if name != "entry" {
                    continue;
                }
                let entry: Entry =
                    serde_json::from_str(&data).context("the service sent an unreadable entry")?;
                // After a reconnection the service may repeat what was already shown.
                if entry.seq <= last {
                    continue;
                }
                last = entry.seq;
                each(&entry);
            }
        }
    }
}

fn token(client: &Client) -> anyhow::Result<String> {
    let now = i64::try_from(system::now()).unwrap_or(i64::MAX);
    let jti = HEXLOWER.encode(&system::random::<16>()?);
    jwt::issue(client.key(), &client.service, now, TOKEN_LIFETIME, jti)
        .context("cannot sign the authentication token")
}

/// The service's refusal from an error body, in the same form as the other calls'.
fn refused(status: u16, body: &[u8]) -> anyhow::Error {
    #[derive(Deserialize)]
    struct ErrorBody {
        error: Detail,
    }
    #[derive(Deserialize)]
    struct Detail {
        code: String,
        message: String,
    }
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(ErrorBody { error }) => Refused {
            status,
            code: clean(&error.code),
            message: clean(&error.message),
        }
        .into(),
        Err(_) => anyhow!("the service answered HTTP {status}"),
    }
}

fn innermost(err: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// A parser of server-sent events: bytes in, `(event name, data)` out.
#[derive(Debug, Default)]
struct Events {
    line: Vec<u8>,
    name: String,
    data: String,
}

impl Events {
    fn feed(&mut self, bytes: &[u8]) -> anyhow::Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for &byte in bytes {
            if byte != b'\n' {
                if self.line.len() >= MAX_LINE {
                    bail!("the event stream sent a line longer than {MAX_LINE} bytes");
                }
                self.line.push(byte);
                continue;
            }
            let line = std::mem::take(&mut self.line);
            let line = String::from_utf8_lossy(&line);
            let line = line.strip_suffix('\r').unwrap_or(&line);
            if line.is_empty() {
                let name = std::mem::take(&mut self.name);
                let data = std::mem::take(&mut self.data);
                if !data.is_empty() {
                    let name = if name.is_empty() {
                        "message".to_owned()
                    } else {
                        name
                    };
                    out.push((name, data));
                }
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => value.clone_into(&mut self.name),
                "data" => {
                    if !self.data.is_empty() {
                        self.data.push('\n');
                    }
                    self.data.push_str(value);
                }
                // Comments (keep-alives), ids and retry hints.
                _ => {}
            }
        }
        Ok(out)
    }
}

fn print_entry(client: &Client, entry: &Entry, output: Output) {
    if output == Output::Json {
        match serde_json::to_string(entry) {
            Ok(line) => println!("{line}"),
            Err(e) => eprintln!("entry {}: {e}", entry.seq),
        }
        return;
    }
    let actor = if entry.actor == client.owner.to_string() {
        "owner".to_owned()
    } else if entry.actor == client.service.to_string() {
        "service".to_owned()
    } else {
        short_did(&entry.actor)
    };
    let line = format!(
        "{}  #{}  {}  {}  {}  {}",
        at(entry.at),
        entry.seq,
        entry.kind,
        actor,
        entry.subject,
        summary(&entry.data)
    );
    println!("{}", clean(line.trim_end()));
}

/// An entry's data on one line: `key=value` for each field, long values cut short.
fn summary(data: &Json) -> String {
    let text = match data {
        Json::Null => String::new(),
        Json::Object(fields) => fields
            .iter()
            .filter(|(k, _)| !HIDDEN.contains(&k.as_str()))
            .map(|(k, v)| match v.as_i64() {
                // Times are Unix seconds in fields named `…_at`.
                Some(t) if k.ends_with("_at") => format!("{k}={}", at(t)),
                _ => format!("{k}={}", value(v)),
            })
            .collect::<Vec<_>>()
            .join(" "),
        other => value(other),
    };
    cut(&text, MAX_SUMMARY)
}

fn value(v: &Json) -> String {
    let text = match v {
        Json::String(s) if !s.is_empty() && !s.contains(char::is_whitespace) => s.clone(),
        other => other.to_string(),
    };
    cut(&text, MAX_VALUE)
}

fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(max - 1).collect();
    short.push('…');
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_split_on_blank_lines_whatever_the_chunks() {
        let stream = b": keep-alive\n\nevent: entry\nid: 3\ndata: {\"a\":\r\ndata: 1}\r\n\r\nevent: x\ndata: y\n\n";
        for size in [1, 2, 7, stream.len()] {
            let mut events = Events::default();
            let mut got = Vec::new();
            for chunk in stream.chunks(size) {
                got.extend(events.feed(chunk).unwrap_or_default());
            }
            assert_eq!(
                got,
                vec![
                    ("entry".to_owned(), "{\"a\":\n1}".to_owned()),
                    ("x".to_owned(), "y".to_owned())
                ]
            );
        }
    }

    #[test]
    fn summaries_stay_on_one_short_line() {
        let data = serde_json::json!({
            "agent": "helper", "summary": "Email Bob", "envelope": "glhA…", "n": 3,
            "expires_at": 1_800_000_000,
            "long": "x".repeat(500),
        });
        let text = summary(&data);
        assert!(
            text.starts_with("agent=helper expires_at=2027-01-15T08:00:00Z long=xxx"),
            "{text}"
        );
        assert!(text.contains("n=3 summary=\"Email Bob\""), "{text}");
        assert!(!text.contains("envelope"), "{text}");
        assert!(text.chars().count() <= MAX_SUMMARY);
    }
}
