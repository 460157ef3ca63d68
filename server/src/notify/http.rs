//! The outgoing HTTP side of notifications: one client, a cap on what is read back, and
//! what a response means for the delivery (sent, retry later, gone, or failed for good).

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{RequestBuilder, StatusCode};

/// Most bytes of a response body read (error details for the log; the rest is dropped).
const MAX_RESPONSE: usize = 16 * 1024;
/// A whole send, connection included.
const TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest `Retry-After` honoured, in seconds.
const MAX_RETRY_AFTER: i64 = 3600;

/// What one attempt came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt {
    Sent {
        status: u16,
    },
    /// Worth trying again (network error, 429, 5xx), not before `after` seconds if given.
    Retry {
        error: String,
        after: Option<i64>,
    },
    /// The push subscription no longer exists (404, 410).
    Gone {
        error: String,
    },
    /// Refused for good (other 4xx, or a message that cannot be built).
    Failed {
        error: String,
    },
}

impl Attempt {
    pub fn failed(error: impl Into<String>) -> Attempt {
        Attempt::Failed {
            error: error.into(),
        }
    }
}

/// The client notifications are sent with: rustls (ring), no redirects, short timeouts.
pub fn client() -> reqwest::Result<reqwest::Client> {
    // Installing fails only when a provider is installed already: either is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("countersign/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Sends a request and classifies the answer; `gone_means_removed` makes 404/410 `Gone`
/// (push subscriptions) rather than a failure. `now` dates an HTTP-date `Retry-After`.
pub async fn send(request: RequestBuilder, gone_means_removed: bool, now: i64) -> Attempt {
    let mut response = match request.send().await {
        Ok(r) => r,
        Err(e) => {
            return Attempt::Retry {
                error: format!("request failed: {}", without_url(&e)),
                after: None,
            };
        }
    };
    let status = response.status();
    let after = retry_after(response.headers(), now);
    let mut body = Vec::new();
    // Read a bounded prefix only; a body cut short is not an error.
    while body.len() < MAX_RESPONSE {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_RESPONSE - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    classify(status, after, &body, gone_means_removed)
}

fn classify(status: StatusCode, after: Option<i64>, body: &[u8], gone: bool) -> Attempt {
    if status.is_success() {
        return Attempt::Sent {
            status: status.as_u16(),
        };
    }
    let detail: String = String::from_utf8_lossy(body)
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    let error = if detail.trim().is_empty() {
        format!("HTTP {}", status.as_u16())
    } else {
        format!("HTTP {}: {}", status.as_u16(), detail.trim())
    };
    match status {
        StatusCode::NOT_FOUND | StatusCode::GONE if gone => Attempt::Gone { error },
        StatusCode::TOO_MANY_REQUESTS | StatusCode::REQUEST_TIMEOUT => {
            Attempt::Retry { error, after }
        }
        s if s.is_server_error() => Attempt::Retry { error, after },
        _ => Attempt::Failed { error },
    }
}

/// `Retry-After` as seconds from `now`: a number of seconds or an HTTP date.
fn retry_after(headers: &HeaderMap, now: i64) -> Option<i64> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let secs = match value.parse::<i64>() {
        Ok(secs) => secs,
        Err(_) => {
            let at = httpdate::parse_http_date(value).ok()?;
            let at = at.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
            i64::try_from(at).ok()? - now
        }
    };
    Some(secs.clamp(0, MAX_RETRY_AFTER))
}

/// A reqwest error without its URL: push endpoints are capabilities, kept out of logs.
fn without_url(e: &reqwest::Error) -> String {
    let e = e.to_string();
    match e.find(" for url (") {
        Some(i) => e[..i].to_owned(),
        None => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn answers_are_classified() {
        let ok = classify(StatusCode::CREATED, None, b"", true);
        assert_eq!(ok, Attempt::Sent { status: 201 });
        let gone = classify(StatusCode::GONE, None, b"expired\n", true);
        assert_eq!(
            gone,
            Attempt::Gone {
                error: "HTTP 410: expired".into()
            }
        );
        assert!(matches!(
            classify(StatusCode::NOT_FOUND, None, b"", false),
            Attempt::Failed { .. }
        ));
        assert!(matches!(
            classify(StatusCode::TOO_MANY_REQUESTS, Some(30), b"", true),
            Attempt::Retry {
                after: Some(30),
                ..
            }
        ));
        assert!(matches!(
            classify(StatusCode::BAD_GATEWAY, None, b"", true),
            Attempt::Retry { after: None, .. }
        ));
        assert!(matches!(
            classify(StatusCode::UNAUTHORIZED, None, b"", true),
            Attempt::Failed { .. }
        ));
    }

    #[test]
    fn retry_after_takes_seconds_or_dates() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h, 0), None);
        h.insert(RETRY_AFTER, HeaderValue::from_static("120"));
        assert_eq!(retry_after(&h, 0), Some(120));
        h.insert(RETRY_AFTER, HeaderValue::from_static("999999"));
        assert_eq!(retry_after(&h, 0), Some(MAX_RETRY_AFTER));
        // 1994-11-06T08:49:37Z is 784111777.
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        assert_eq!(retry_after(&h, 784_111_777 - 90), Some(90));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h, 0), None);
    }
}
