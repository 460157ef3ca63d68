//! Prometheus metrics: counters and a histogram kept in memory, written in the text
//! exposition format at `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use crate::listen::OpenConnections;

/// Upper bounds (seconds) of the time-to-decision histogram.
const DECISION_BUCKETS: [f64; 10] = [
    1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 1800.0, 3600.0,
];

/// Everything the service counts.
#[derive(Debug, Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<(&'static str, String), u64>>,
    decision_seconds: Mutex<Histogram>,
    /// Connections being served now.
    pub connections: OpenConnections,
}

#[derive(Debug, Default)]
struct Histogram {
    buckets: [u64; DECISION_BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Help text of each counter family.
const FAMILIES: &[(&str, &str)] = &[
    (
        "countersign_requests_total",
        "Requests by outcome: created, merged, auto_approved, refused.",
    ),
    (
        "countersign_decisions_total",
        "Decisions by state: approved, denied, withdrawn, expired, cancelled.",
    ),
    ("countersign_issued_total", "Capabilities issued to agents."),
    (
        "countersign_revocations_total",
        "Revocations added to the feed, by source.",
    ),
    (
        "countersign_notifications_total",
        "Notification deliveries by channel and outcome.",
    ),
    ("countersign_receipts_total", "Gateway receipts by outcome."),
    (
        "countersign_streams_refused_total",
        "Long-polls and event streams refused: the caller held limits.max_streams_per_caller.",
    ),
];

impl Metrics {
    /// Adds one to `family{label}` (label as `key="value"`, or empty).
    pub fn inc(&self, family: &'static str, label: impl Into<String>) {
        let mut counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        *counters.entry((family, label.into())).or_default() += 1;
    }

    pub fn observe_decision(&self, seconds: i64) {
        let s = seconds.max(0) as f64;
        let mut h = self
            .decision_seconds
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for (i, bound) in DECISION_BUCKETS.iter().enumerate() {
            if s <= *bound {
                h.buckets[i] += 1;
            }
        }
        h.count += 1;
        h.sum += s;
    }

    /// The exposition text; `pending` is read from the store at scrape time, `waiting` is
    /// how many requests someone waits on in this process (long-polls, event streams).
    pub fn render(&self, pending: u64, waiting: usize) -> String {
        let mut out = String::new();
        let counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        for (family, help) in FAMILIES {
            let _ = writeln!(out, "# HELP {family} {help}\n# TYPE {family} counter");
            let mut any = false;
            for ((f, label), n) in counters.iter().filter(|((f, _), _)| f == family) {
                any = true;
                if label.is_empty() {
                    let _ = writeln!(out, "{f} {n}");
                } else {
                    let _ = writeln!(out, "{f}{{{label}}} {n}");
                }
            }
            if !any {
                let _ = writeln!(out, "{family} 0");
            }
        }
        drop(counters);
        let _ = writeln!(
            out,
            "# HELP countersign_pending_requests Requests waiting for a decision.\n# TYPE countersign_pending_requests gauge\ncountersign_pending_requests {pending}"
        );
        let _ = writeln!(
            out,
            "# HELP countersign_waiting_requests Requests someone is waiting on here (long-polls, event streams).\n# TYPE countersign_waiting_requests gauge\ncountersign_waiting_requests {waiting}"
        );
        let _ = writeln!(
            out,
            "# HELP countersign_open_connections Connections being served (at most limits.max_connections).\n# TYPE countersign_open_connections gauge\ncountersign_open_connections {}",
            self.connections.count()
        );
        let h = self
            .decision_seconds
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let name = "countersign_time_to_decision_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time from a request to its approval or denial.\n# TYPE {name} histogram"
        );
        for (bound, n) in DECISION_BUCKETS.iter().zip(h.buckets) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{le=\"+Inf\"}} {}\n{name}_sum {}\n{name}_count {}",
            h.count, h.sum, h.count
        );
        out
    }
}

/// A label for a counter, with the value escaped as the format requires.
pub fn label(key: &str, value: &str) -> String {
    let escaped = value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n");
    format!("{key}=\"{escaped}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_gauge_and_histogram() {
        let m = Metrics::default();
        m.inc("countersign_requests_total", label("outcome", "created"));
        m.inc("countersign_requests_total", label("outcome", "created"));
        m.inc("countersign_issued_total", "");
        m.observe_decision(3);
        m.observe_decision(4000);
        let text = m.render(7, 3);
        assert!(
            text.contains("countersign_requests_total{outcome=\"created\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("countersign_issued_total 1\n"));
        assert!(text.contains("countersign_decisions_total 0\n"));
        assert!(text.contains("countersign_pending_requests 7\n"));
        assert!(text.contains("countersign_waiting_requests 3\n"));
        assert!(text.contains("countersign_open_connections 0\n"));
        assert!(text.contains("countersign_streams_refused_total 0\n"));
        assert!(text.contains("countersign_time_to_decision_seconds_bucket{le=\"5\"} 1\n"));
        assert!(text.contains("countersign_time_to_decision_seconds_bucket{le=\"+Inf\"} 2\n"));
        assert!(text.contains("countersign_time_to_decision_seconds_count 2\n"));
    }

    #[test]
    fn open_connections_are_rendered_as_a_gauge() {
        let m = Metrics::default();
        let first = m.connections.open();
        let second = m.connections.open();
        assert!(m.render(0, 0).contains("countersign_open_connections 2\n"));
        drop(first);
        drop(second);
        assert!(m.render(0, 0).contains("countersign_open_connections 0\n"));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("k", "a\"b\\c"), "k=\"a\\\"b\\\\c\"");
    }
}
