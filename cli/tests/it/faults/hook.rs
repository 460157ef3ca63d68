//! A webhook receiver on loopback that counts what the outbox delivers.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::thread;

use super::Rng;
use crate::support::PATIENCE;

/// What the webhook receiver saw of one event (`<request id>.pending` or `.closed`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Seen {
    /// Deliveries that arrived whole.
    pub received: usize,
    /// Of those, answered 2xx (the answer was written).
    pub acked: usize,
}

#[derive(Default)]
struct HookLog {
    events: HashMap<String, Seen>,
    /// Requests whose pending event was acknowledged, in that order.
    pending: Vec<String>,
}

/// A webhook receiver on loopback that counts deliveries by their `Countersign-Event` id
/// and refuses (503) the first delivery of about one event in eight, to have retries too.
pub struct Hook {
    pub url: String,
    log: Arc<Mutex<HookLog>>,
}

impl Hook {
    pub fn start(rng: Rng) -> Hook {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let log = Arc::new(Mutex::new(HookLog::default()));
        let rng = Arc::new(Mutex::new(rng));
        let shared = log.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (log, rng) = (shared.clone(), rng.clone());
                thread::spawn(move || receive(stream, &log, &rng));
            }
        });
        Hook { url, log }
    }

    pub fn seen(&self, event: &str) -> Seen {
        self.log
            .lock()
            .unwrap()
            .events
            .get(event)
            .copied()
            .unwrap_or_default()
    }

    pub fn pending_ids(&self) -> Vec<String> {
        self.log.lock().unwrap().pending.clone()
    }

    pub fn events(&self) -> HashMap<String, Seen> {
        self.log.lock().unwrap().events.clone()
    }
}

fn receive(stream: std::net::TcpStream, log: &Mutex<HookLog>, rng: &Mutex<Rng>) {
    let _ = stream.set_read_timeout(Some(PATIENCE));
    let mut reader = BufReader::new(stream);
    let (mut event, mut length) = (None, 0usize);
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line == "\r\n" => break,
            Ok(_) => {}
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("countersign-event:") {
            event = Some(v.trim().to_owned());
        } else if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let Some(event) = event else { return };
    let refuse = {
        let mut log = log.lock().unwrap();
        let seen = log.events.entry(event.clone()).or_default();
        seen.received += 1;
        seen.received == 1 && rng.lock().unwrap().one_in(8)
    };
    let answer: &[u8] = if refuse {
        b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    } else {
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    };
    let written = reader.get_mut().write_all(answer).is_ok();
    if written && !refuse {
        let mut log = log.lock().unwrap();
        let seen = log.events.entry(event.clone()).or_default();
        seen.acked += 1;
        if seen.acked == 1 {
            if let Some(id) = event.strip_suffix(".pending") {
                log.pending.push(id.to_owned());
            }
        }
    }
}
