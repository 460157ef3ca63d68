//! Countersign's chain validation next to another UCAN 1.0 implementation's, measured in
//! the same run: iso-ucan (JavaScript, on Node.js) validating the same containers.
//!
//! Both sides validate the sample chain's invocation with its three proofs from the
//! token bytes, every signature checked (no memoization: iso-ucan has none), one
//! validation at a time on one core. Rounds alternate which side runs first; the median
//! ratio is reported. Needs `node` and `npm ci` in `tests/`; without them it says so and
//! measures nothing.

// A benchmark whose set-up fails should stop loudly.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use countersign_core::container::Container;
use countersign_core::sample::{CountingNonces, ISSUED_AT, SampleChain, refund_args};
use countersign_core::validate::{Context, Limits, NoRevocations, ProofSet, Validator};

/// Containers: iso-ucan validates each once per round (after a warm-up pass), ours
/// `OUR_PASSES` times, since it is so much faster.
const CONTAINERS: usize = 300;
const OUR_PASSES: usize = 20;
const ROUNDS: usize = 5;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let script = root.join("tests/interop/iso-rate.mjs");
    if let Err(why) = node_ready(&root) {
        println!("iso-ucan comparison skipped: {why}");
        return;
    }
    let chain = SampleChain::build().expect("sample chain");
    let mut nonces = CountingNonces::new(7_000_000);
    let proofs = chain.proof_bytes();
    let invocations: Vec<Vec<u8>> = (0..CONTAINERS)
        .map(|_| {
            chain
                .invoke(refund_args(4900), &mut nonces)
                .expect("invocation")
                .bytes
        })
        .collect();
    let file = std::env::temp_dir().join(format!("cs-iso-rate-{}.txt", std::process::id()));
    let lines: Vec<String> = invocations
        .iter()
        .map(|inv| {
            let mut tokens = vec![inv.clone()];
            tokens.extend(proofs.iter().cloned());
            Container::new(tokens).to_text()
        })
        .collect();
    std::fs::write(&file, lines.join("\n")).expect("containers file");
    let now = ISSUED_AT + 1;
    let audience = chain.gateway.did();

    let ours = || {
        let validator = Validator::new(Limits::default(), 0);
        let ctx = Context {
            now,
            audience: Some(audience),
            revocations: &NoRevocations,
        };
        let started = Instant::now();
        for _ in 0..OUR_PASSES {
            for inv in &invocations {
                let proof_set = ProofSet::new(proofs.iter().cloned());
                assert!(validator.validate(inv, &proof_set, &ctx).is_ok());
            }
        }
        (OUR_PASSES * CONTAINERS) as f64 / started.elapsed().as_secs_f64()
    };
    let theirs = || iso_rate(&script, &file, now, &audience.to_string());
    let mut rounds = Vec::new();
    for round in 0..ROUNDS {
        let (us, them) = if round % 2 == 0 {
            let us = ours();
            (us, theirs())
        } else {
            let them = theirs();
            (ours(), them)
        };
        eprintln!(
            "round {round}: countersign-core {us:.0}/s, iso-ucan {them:.0}/s, ratio {:.1}",
            us / them
        );
        rounds.push((us, them));
    }
    let _ = std::fs::remove_file(&file);
    let median = |f: &dyn Fn(&(f64, f64)) -> f64| {
        let mut v: Vec<f64> = rounds.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!("chain validation, 3 proofs + invocation, every signature checked, one core");
    println!(
        "  countersign-core   {:>8.0} validations/s",
        median(&|r| r.0)
    );
    println!(
        "  iso-ucan (Node.js) {:>8.0} validations/s",
        median(&|r| r.1)
    );
    println!(
        "  ratio countersign-core / iso-ucan (median of rounds): {:.2}",
        median(&|r| r.0 / r.1)
    );
}

/// Why the comparison cannot run here, if it cannot.
fn node_ready(root: &Path) -> Result<(), String> {
    let modules: PathBuf = root.join("tests/node_modules/iso-ucan");
    if !modules.exists() {
        return Err(format!(
            "{} is missing (run `npm ci` in tests/)",
            modules.display()
        ));
    }
    match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => Ok(()),
        _ => Err("`node` is not on PATH".to_owned()),
    }
}

/// One timed pass of iso-ucan over the containers (after a warm-up pass), in
/// validations per second.
fn iso_rate(script: &Path, file: &Path, now: u64, audience: &str) -> f64 {
    let out = Command::new("node")
        .arg(script)
        .arg(file)
        .arg(now.to_string())
        .arg(audience)
        .output()
        .expect("run node");
    assert!(
        out.status.success(),
        "iso-ucan failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |name: &str| -> f64 {
        let at = text.find(&format!("\"{name}\":")).expect("field") + name.len() + 3;
        text[at..]
            .split([',', '}'])
            .next()
            .and_then(|v| v.trim().parse().ok())
            .expect("number")
    };
    field("validations") / field("seconds")
}
