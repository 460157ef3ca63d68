//! Interop with an independent UCAN 1.0 implementation: runs the Node suite in `tests/`
//! (iso-ucan) against this build of the binary.
//!
//! Needs Node and `npm ci` in `tests/`. Without them the test says so and passes, unless
//! `COUNTERSIGN_REQUIRE_NODE` is set (as CI sets it), when their absence is a failure.

use std::path::Path;
use std::process::Command;

fn skip_or_fail(reason: &str) {
    if std::env::var_os("COUNTERSIGN_REQUIRE_NODE").is_some() {
        panic!("interop test cannot run: {reason}");
    }
    eprintln!("SKIPPED interop with iso-ucan: {reason}");
}

#[test]
fn iso_ucan_and_countersign_accept_each_others_tokens() {
    let suite = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests");
    if Command::new("node").arg("--version").output().is_err() {
        return skip_or_fail("node is not installed");
    }
    if !suite.join("node_modules/iso-ucan").is_dir() {
        return skip_or_fail("run `npm ci` in tests/ first");
    }
    let mut files: Vec<_> = std::fs::read_dir(suite.join("interop"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".test.mjs"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no interop test files found");
    let out = Command::new("node")
        .args(["--test", "--test-reporter=tap"])
        .args(&files)
        .current_dir(&suite)
        .env("COUNTERSIGN_BIN", env!("CARGO_BIN_EXE_countersign"))
        .output()
        .unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "the Node interop suite failed:\n{report}"
    );
    // The suite must have run its cases, not skipped them all.
    assert!(
        !report.contains("# pass 0"),
        "no interop case ran:\n{report}"
    );
    assert!(
        !report.contains("# skipped") || report.contains("# skipped 0"),
        "interop cases were skipped:\n{report}"
    );
}
