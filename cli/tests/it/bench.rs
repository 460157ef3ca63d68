//! `countersign bench --quick`: the load tool starts a service and a gateway of its own,
//! runs every phase against them through the real API, and reports each section with no
//! errors. Figures and targets are not asserted: they depend on the machine.

use std::process::Stdio;

use serde_json::Value as Json;

use crate::postgres::TestDatabase;
use crate::support::{Lines, Run, Spawned, countersign};

fn bench(args: &[&str]) -> Run {
    let mut child = countersign()
        .arg("bench")
        .arg("--quick")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    Spawned {
        out: Lines::new(child.stdout.take().unwrap()),
        err: Lines::new(child.stderr.take().unwrap()),
        child,
        what: format!("countersign bench --quick {}", args.join(" ")),
    }
    .finish()
}

#[test]
fn quick_bench_runs_every_phase_without_errors() {
    let run = bench(&[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    for section in [
        "countersign bench: SQLite (1 service replica)",
        "machine: ",
        "durable SQLite inserts/s",
        "verify_strict/s",
        "full cycles: 4 agents",
        "  request ",
        "  approve ",
        "  fetch ",
        "  invoke ",
        "  cycle ",
        "CPU time in the window",
        "approval → agent, 20 agents waiting",
        "sent → held",
        "revocation → feed subscribers: 10 subscribers",
        "sent → received",
        "memory: 100 agents waiting",
        "per waiting agent",
        "peak resident memory",
        "targets",
    ] {
        assert!(
            run.stdout.contains(section),
            "no {section:?} in:\n{}",
            run.stdout
        );
    }
    assert!(
        run.stdout.trim_end().ends_with("errors: 0"),
        "{}",
        run.stdout
    );
    // Progress goes to standard error while it runs.
    assert!(run.stderr.contains("bench: full cycles"), "{}", run.stderr);
}

#[test]
fn quick_bench_on_postgres_with_two_replicas() {
    let Some(database) =
        TestDatabase::create("cs_bench", "quick_bench_on_postgres_with_two_replicas")
    else {
        return;
    };
    let url = database.url();
    let run = bench(&["--database", &url, "--output", "json"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let report: Json = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["database"], "PostgreSQL");
    assert_eq!(report["replicas"], 2);
    assert_eq!(report["errors"], 0, "{report:#}");
    assert!(
        report["cycles"]["cycles"].as_u64().unwrap() > 0,
        "{report:#}"
    );
    for step in report["cycles"]["steps"].as_array().unwrap() {
        assert!(step["latency"]["p99_ms"].is_number(), "{report:#}");
    }
    for figure in [
        &report["waiting"]["sent_to_held"]["p99_ms"],
        &report["waiting"]["same_replica"]["p99_ms"],
        &report["waiting"]["other_replica"]["p99_ms"],
        &report["feed"]["latency"]["p99_ms"],
        &report["memory"]["bytes_per_waiting"],
        &report["baselines"]["used"]["inserts_per_s"],
    ] {
        assert!(figure.is_number(), "{report:#}");
    }
    assert_eq!(report["memory"]["waiting"], 100);
    assert_eq!(report["targets"].as_array().unwrap().len(), 4);
}
