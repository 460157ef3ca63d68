//! Prometheus metrics of the gateway: invocations by outcome, refusals by kind, and the
//! connections being served.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use countersign_server::listen::OpenConnections;

#[derive(Debug, Default)]
pub struct Metrics {
    /// (family, label value) → count.
    counts: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    /// Connections being served now.
    pub connections: OpenConnections,
}

const EXECUTED: &str = "countersign_gateway_invocations_total";
const REFUSED: &str = "countersign_gateway_refusals_total";
const OPEN: &str = "countersign_gateway_open_connections";

impl Metrics {
    /// An invocation that reached the upstream (`ok` or `upstream_error`).
    pub fn executed(&self, outcome: &'static str) {
        self.bump(EXECUTED, outcome);
    }

    /// An invocation answered with an error, by its kind.
    pub fn refused(&self, kind: &'static str) {
        self.bump(REFUSED, kind);
    }

    fn bump(&self, family: &'static str, label: &'static str) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        *counts.entry((family, label)).or_default() += 1;
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        for (family, label, help) in [
            (EXECUTED, "outcome", "Invocations executed, by outcome."),
            (REFUSED, "kind", "Invocations refused, by error kind."),
        ] {
            let _ = writeln!(out, "# HELP {family} {help}\n# TYPE {family} counter");
            for ((_, value), n) in counts.iter().filter(|((f, _), _)| *f == family) {
                let _ = writeln!(out, "{family}{{{label}=\"{value}\"}} {n}");
            }
        }
        let _ = writeln!(
            out,
            "# HELP {OPEN} Connections being served (at most limits.max_connections).\n\
             # TYPE {OPEN} gauge\n{OPEN} {}",
            self.connections.count()
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_outcomes_and_refusal_kinds() {
        let m = Metrics::default();
        m.executed("ok");
        m.refused("Replayed");
        m.refused("Replayed");
        let text = m.render();
        assert!(
            text.contains("countersign_gateway_invocations_total{outcome=\"ok\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("countersign_gateway_refusals_total{kind=\"Replayed\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("# TYPE countersign_gateway_refusals_total counter"));
        assert!(
            text.contains("countersign_gateway_open_connections 0\n"),
            "{text}"
        );
        let open = m.connections.open();
        assert!(
            m.render()
                .contains("countersign_gateway_open_connections 1\n")
        );
        drop(open);
    }
}
