//! The results: a table for people, or one JSON document. Every figure is also given as
//! a ratio to the machine's own bounds measured in the same run, and each target says
//! whether it was met.

use std::fmt::Write;
use std::time::Duration;

use serde_json::{Value as Json, json};

use super::baseline::{Baselines, Series};
use super::cycle::CycleResult;
use super::feed::FeedResult;
use super::memory::MemoryResult;
use super::stats::Summary;
use super::waiting::WaitingResult;

/// The targets.
const CYCLES_PER_INSERT: f64 = 0.25;
const APPROVAL_P99: Duration = Duration::from_millis(10);
const BYTES_PER_WAITING: f64 = 16.0 * 1024.0;
const REVOCATION_P99: Duration = Duration::from_millis(250);

#[derive(Debug)]
pub struct Machine {
    pub cores: usize,
    pub cpu: String,
    pub memory: String,
    pub date: String,
}

impl Machine {
    pub fn describe() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|l| l.split_once(':'))
            .map_or_else(|| "unknown".to_owned(), |(_, m)| m.trim().to_owned());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or_else(
                || "unknown".to_owned(),
                |kib| format!("{:.0} GiB", kib as f64 / 1024.0 / 1024.0),
            );
        Machine {
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu,
            memory,
            date: crate::output::date(crate::system::now()),
        }
    }
}

#[derive(Debug)]
pub struct Report {
    pub command: String,
    pub database: &'static str,
    pub replicas: usize,
    pub machine: Machine,
    pub baselines: Series,
    pub cycle: CycleResult,
    pub waiting: WaitingResult,
    pub feed: FeedResult,
    pub memory: MemoryResult,
    /// The highest resident memory of a service replica during the load phases.
    pub service_peak: u64,
    pub gateway_peak: u64,
}

/// Whether a target was met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Met,
    NotMet,
    /// The measure's bounds straddle the target.
    NotShown,
    NotMeasured,
}

impl Verdict {
    fn of(measured: Option<bool>) -> Verdict {
        match measured {
            Some(true) => Verdict::Met,
            Some(false) => Verdict::NotMet,
            None => Verdict::NotMeasured,
        }
    }

    fn text(self) -> &'static str {
        match self {
            Verdict::Met => "met",
            Verdict::NotMet => "NOT MET",
            Verdict::NotShown => "not shown (bounds straddle it)",
            Verdict::NotMeasured => "not measured",
        }
    }
}

struct Target {
    name: String,
    measured: String,
    verdict: Verdict,
}

impl Report {
    /// The baselines the ratios use: the median of the measurements.
    fn bounds(&self) -> Baselines {
        self.baselines.median()
    }

    pub fn errors(&self) -> u64 {
        self.cycle.errors + self.waiting.errors + self.feed.errors + self.memory.errors
    }

    fn targets(&self) -> Vec<Target> {
        let b = self.bounds();
        let ratio = self.cycle.per_sec / b.inserts_per_sec;
        let approval = self.waiting.sent_to_held.map(|s| s.p99);
        let approval_floor = self.waiting.answered_to_held.map(|s| s.p99);
        let revocation = self.feed.latency.map(|s| s.p99);
        vec![
            Target {
                name: format!("full cycles/s ≥ {CYCLES_PER_INSERT} × durable inserts/s"),
                measured: format!("{ratio:.3} ×"),
                verdict: Verdict::of((self.cycle.cycles > 0).then_some(ratio >= CYCLES_PER_INSERT)),
            },
            Target {
                name: format!(
                    "commit → agent holds chain, p99 ≤ {} ms, {} waiting",
                    APPROVAL_P99.as_millis(),
                    self.waiting.waiting
                ),
                measured: match (approval, approval_floor) {
                    (Some(high), Some(low)) => format!("{} – {}", ms(low), ms(high)),
                    _ => "-".into(),
                },
                // Commit → agent lies between the two bounds: met if the upper one is
                // within the target, missed if the lower one is not, else not shown.
                verdict: match (approval, approval_floor) {
                    (Some(high), _) if high <= APPROVAL_P99 => Verdict::Met,
                    (_, Some(low)) if low > APPROVAL_P99 => Verdict::NotMet,
                    (Some(_), Some(_)) => Verdict::NotShown,
                    _ => Verdict::NotMeasured,
                },
            },
            Target {
                name: format!(
                    "service memory per waiting agent ≤ 16 KiB, {} waiting",
                    self.memory.waiting
                ),
                measured: kib(self.memory.per_waiting),
                verdict: Verdict::of(
                    (self.memory.waiting > 0)
                        .then_some(self.memory.per_waiting <= BYTES_PER_WAITING),
                ),
            },
            Target {
                name: format!(
                    "revocation → every subscriber, p99 ≤ {} ms, {} subscribers",
                    REVOCATION_P99.as_millis(),
                    self.feed.subscribers
                ),
                measured: revocation.map_or_else(|| "-".into(), ms),
                verdict: Verdict::of(revocation.map(|p| p <= REVOCATION_P99)),
            },
        ]
    }

    pub fn text(&self) -> String {
        let b = self.bounds();
        let mut out = String::new();
        let w = &mut out;
        let _ = writeln!(
            w,
            "countersign bench: {} ({} service replica{})",
            self.database,
            self.replicas,
            if self.replicas == 1 { "" } else { "s" }
        );
        let _ = writeln!(
            w,
            "machine: {} cores, {}, {}; {}",
            self.machine.cores, self.machine.cpu, self.machine.memory, self.machine.date
        );
        let _ = writeln!(w, "command: {}", self.command);
        let _ = writeln!(w);
        let (lo, hi) = (self.baselines.min(), self.baselines.max());
        let _ = writeln!(
            w,
            "baselines (this machine, {} measurements in this run)     min       median          max",
            self.baselines.0.len()
        );
        let _ = writeln!(
            w,
            "  durable SQLite inserts/s (WAL, FULL)        {:>12} {:>12} {:>12}",
            rate(lo.inserts_per_sec),
            rate(b.inserts_per_sec),
            rate(hi.inserts_per_sec)
        );
        let _ = writeln!(
            w,
            "  verify_strict/s (one core)                  {:>12} {:>12} {:>12}",
            rate(lo.verifies_per_sec),
            rate(b.verifies_per_sec),
            rate(hi.verifies_per_sec)
        );
        let _ = writeln!(w);
        let c = &self.cycle;
        let _ = writeln!(
            w,
            "full cycles: {} agents, {:.1} s measured: {} cycles, {:.1}/s = {:.3} × inserts/s = {:.4} × verifies/s; {} errors",
            c.agents,
            c.window.as_secs_f64(),
            c.cycles,
            c.per_sec,
            c.per_sec / b.inserts_per_sec,
            c.per_sec / b.verifies_per_sec,
            c.errors
        );
        table_header(w);
        for (name, s) in &c.steps {
            row(w, name, s.as_ref(), &b);
        }
        if !c.cpu.is_empty() {
            let parts: Vec<String> = c
                .cpu
                .iter()
                .map(|(name, t)| {
                    let per = if c.cycles > 0 {
                        t.as_secs_f64() * 1e3 / c.cycles as f64
                    } else {
                        0.0
                    };
                    format!("{name} {:.2} s ({per:.2} ms/cycle)", t.as_secs_f64())
                })
                .collect();
            let _ = writeln!(w, "  CPU time in the window: {}", parts.join(", "));
        }
        let _ = writeln!(
            w,
            "  the machine's {} cores in the window: {:.0}% busy (every process), {:.0}% waiting for I/O",
            self.machine.cores,
            c.machine_busy * 100.0,
            c.machine_iowait * 100.0
        );
        messages(w, &c.messages);
        let _ = writeln!(w);
        let v = &self.waiting;
        let _ = writeln!(
            w,
            "approval → agent, {} agents waiting: {} approvals, one at a time; {} errors",
            v.waiting, v.approvals, v.errors
        );
        table_header(w);
        row(w, "sent → held", v.sent_to_held.as_ref(), &b);
        row(w, "answered → held", v.answered_to_held.as_ref(), &b);
        row(w, "sent → answered", v.call.as_ref(), &b);
        if v.same_replica.is_some() || v.other_replica.is_some() {
            row(w, "sent → held, same replica", v.same_replica.as_ref(), &b);
            row(
                w,
                "sent → held, other replica",
                v.other_replica.as_ref(),
                &b,
            );
        }
        let _ = writeln!(
            w,
            "  commit → agent lies between answered → held and sent → held; the agent held its chain before the approver had its answer {} times",
            v.agent_first
        );
        messages(w, &v.messages);
        let _ = writeln!(w);
        let f = &self.feed;
        let _ = writeln!(
            w,
            "revocation → feed subscribers: {} subscribers, {} revocations; {} deliveries missed, {} errors",
            f.subscribers, f.revocations, f.missed, f.errors
        );
        table_header(w);
        row(w, "sent → received", f.latency.as_ref(), &b);
        messages(w, &f.messages);
        let _ = writeln!(w);
        let m = &self.memory;
        let _ = writeln!(
            w,
            "memory: {} agents waiting (one long-poll connection and one request each); {} errors",
            m.waiting, m.errors
        );
        let _ = writeln!(
            w,
            "  service resident memory: {} at rest after a restart, {} with them waiting: {} per waiting agent",
            mib(m.idle),
            mib(m.loaded),
            kib(m.per_waiting)
        );
        let _ = writeln!(
            w,
            "  the HTTP layer alone (another fresh process): {} per bare connection that sent a partial request head",
            kib(m.per_connection)
        );
        let _ = writeln!(
            w,
            "  peak resident memory: service {} in the load phases, {} in this one; gateway {}",
            mib(self.service_peak),
            mib(m.peak),
            mib(self.gateway_peak)
        );
        messages(w, &m.messages);
        let _ = writeln!(w);
        let _ = writeln!(w, "targets");
        for t in self.targets() {
            let _ = writeln!(
                w,
                "  {:<62} {:>12}  {}",
                t.name,
                t.measured,
                t.verdict.text()
            );
        }
        let _ = writeln!(w);
        let _ = writeln!(w, "errors: {}", self.errors());
        out
    }

    pub fn json(&self) -> Json {
        let b = self.bounds();
        let c = &self.cycle;
        let v = &self.waiting;
        let f = &self.feed;
        let m = &self.memory;
        json!({
            "command": self.command,
            "database": self.database,
            "replicas": self.replicas,
            "machine": {
                "cores": self.machine.cores, "cpu": self.machine.cpu,
                "memory": self.machine.memory, "date": self.machine.date,
            },
            "baselines": {
                "measurements": self.baselines.0.iter().map(baselines_json).collect::<Vec<_>>(),
                "used": baselines_json(&b),
            },
            "cycles": {
                "agents": c.agents, "window_s": c.window.as_secs_f64(), "cycles": c.cycles,
                "per_s": c.per_sec, "per_insert": c.per_sec / b.inserts_per_sec,
                "per_verify": c.per_sec / b.verifies_per_sec,
                "steps": c.steps.iter().map(|(n, s)| json!({"step": n, "latency": summary_json(s.as_ref(), &b)})).collect::<Vec<_>>(),
                "cpu_s": c.cpu.iter().map(|(n, t)| json!({"process": n, "seconds": t.as_secs_f64()})).collect::<Vec<_>>(),
                "machine_busy": c.machine_busy, "machine_iowait": c.machine_iowait,
                "errors": c.errors, "error_messages": c.messages,
            },
            "waiting": {
                "waiting": v.waiting, "approvals": v.approvals,
                "sent_to_held": summary_json(v.sent_to_held.as_ref(), &b),
                "answered_to_held": summary_json(v.answered_to_held.as_ref(), &b),
                "sent_to_answered": summary_json(v.call.as_ref(), &b),
                "same_replica": summary_json(v.same_replica.as_ref(), &b),
                "other_replica": summary_json(v.other_replica.as_ref(), &b),
                "agent_first": v.agent_first,
                "errors": v.errors, "error_messages": v.messages,
            },
            "feed": {
                "subscribers": f.subscribers, "revocations": f.revocations,
                "latency": summary_json(f.latency.as_ref(), &b),
                "missed": f.missed, "errors": f.errors, "error_messages": f.messages,
            },
            "memory": {
                "waiting": m.waiting, "idle_bytes": m.idle, "loaded_bytes": m.loaded,
                "bytes_per_waiting": m.per_waiting,
                "bytes_per_bare_connection": m.per_connection, "peak_bytes": m.peak,
                "errors": m.errors, "error_messages": m.messages,
            },
            "service_peak_bytes": self.service_peak,
            "gateway_peak_bytes": self.gateway_peak,
            "targets": self.targets().iter().map(|t| json!({
                "target": t.name, "measured": t.measured, "met": match t.verdict {
                    Verdict::Met => Json::Bool(true),
                    Verdict::NotMet => Json::Bool(false),
                    Verdict::NotShown | Verdict::NotMeasured => Json::Null,
                },
            })).collect::<Vec<_>>(),
            "errors": self.errors(),
        })
    }
}

fn table_header(w: &mut String) {
    let _ = writeln!(
        w,
        "  {:<28} {:>6} {:>9} {:>9} {:>9} {:>9} {:>11} {:>11}",
        "step", "n", "p50", "p90", "p99", "max", "p99/insert", "p99/verify"
    );
}

/// A latency row; the last two columns say how many durable inserts and how many
/// signature checks the p99 is worth on this machine.
fn row(w: &mut String, name: &str, s: Option<&Summary>, b: &Baselines) {
    match s {
        Some(s) => {
            let p99 = s.p99.as_secs_f64();
            let _ = writeln!(
                w,
                "  {:<28} {:>6} {:>9} {:>9} {:>9} {:>9} {:>10.1}× {:>10.0}×",
                name,
                s.n,
                ms(s.p50),
                ms(s.p90),
                ms(s.p99),
                ms(s.max),
                p99 * b.inserts_per_sec,
                p99 * b.verifies_per_sec
            );
        }
        None => {
            let _ = writeln!(w, "  {name:<28} {:>6}", 0);
        }
    }
}

fn messages(w: &mut String, messages: &[String]) {
    for m in messages {
        let _ = writeln!(w, "  error: {m}");
    }
}

fn summary_json(s: Option<&Summary>, b: &Baselines) -> Json {
    match s {
        None => Json::Null,
        Some(s) => {
            let f = |d: Duration| d.as_secs_f64() * 1e3;
            json!({
                "n": s.n, "p50_ms": f(s.p50), "p90_ms": f(s.p90), "p99_ms": f(s.p99),
                "max_ms": f(s.max),
                "p99_inserts": s.p99.as_secs_f64() * b.inserts_per_sec,
                "p99_verifies": s.p99.as_secs_f64() * b.verifies_per_sec,
            })
        }
    }
}

fn baselines_json(b: &Baselines) -> Json {
    json!({ "inserts_per_s": b.inserts_per_sec, "verifies_per_s": b.verifies_per_sec })
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 1000.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{:.2} s", ms / 1e3)
    }
}

fn rate(per_sec: f64) -> String {
    format!("{per_sec:.0}")
}

fn kib(bytes: f64) -> String {
    format!("{:.1} KiB", bytes / 1024.0)
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / 1024.0 / 1024.0)
}
