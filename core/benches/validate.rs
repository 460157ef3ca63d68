//! Validation cost against the signature checks it is built on, measured in one run.
//!
//! Criterion times each case; then the ratios the targets are stated in are measured
//! with interleaved rounds, so that noise from a shared machine hits both sides alike:
//! - cold: a 3-proof chain and its invocation (4 signatures), against 4 raw checks;
//! - memoized: the same with the proofs already verified, against 1 raw check.

// A benchmark whose set-up fails should stop loudly.
#![allow(clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use countersign_core::sample::SampleChain;
use countersign_core::validate::{Context, Limits, NoRevocations, ProofSet, Validator};
use criterion::Criterion;
use ed25519_dalek::{Signature, VerifyingKey};

struct Bench {
    chain: SampleChain,
    proofs: ProofSet,
    /// (public key, signed bytes, signature) of each of the four tokens.
    signatures: Vec<([u8; 32], Vec<u8>, [u8; 64])>,
    ctx_now: u64,
}

fn setup() -> Bench {
    let chain = SampleChain::build().expect("sample chain builds");
    let mut signatures = Vec::new();
    let tokens = chain
        .delegations
        .iter()
        .map(|d| (d.token.issuer, &d.bytes))
        .chain([(chain.invocation.token.issuer, &chain.invocation.bytes)]);
    for (issuer, bytes) in tokens {
        let sig: [u8; 64] = bytes[3..67].try_into().expect("64-byte signature");
        signatures.push((*issuer.public_key_bytes(), bytes[67..].to_vec(), sig));
    }
    Bench {
        proofs: ProofSet::new(chain.proof_bytes()),
        chain,
        signatures,
        ctx_now: countersign_core::sample::ISSUED_AT + 1,
    }
}

/// One raw Ed25519 check as a did:key verifier must do it: decode the key, verify strictly.
fn raw_check(key: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
    VerifyingKey::from_bytes(key)
        .and_then(|k| k.verify_strict(msg, &Signature::from_bytes(sig)))
        .is_ok()
}

/// Only the verification equation, with the key already decoded.
fn raw_verify_only(key: &VerifyingKey, msg: &[u8], sig: &[u8; 64]) -> bool {
    key.verify_strict(msg, &Signature::from_bytes(sig)).is_ok()
}

fn validate(b: &Bench, validator: &Validator, invocation: &[u8]) -> bool {
    let ctx = Context {
        now: b.ctx_now,
        audience: Some(b.chain.gateway.did()),
        revocations: &NoRevocations,
    };
    validator.validate(invocation, &b.proofs, &ctx).is_ok()
}

fn all_raw(b: &Bench) -> bool {
    b.signatures.iter().all(|(k, m, s)| raw_check(k, m, s))
}

fn criterion_benches(c: &mut Criterion, b: &Bench) {
    let (key, msg, sig) = &b.signatures[3];
    let decoded = VerifyingKey::from_bytes(key).expect("valid key");
    c.bench_function("raw verify_strict (key decoded)", |bench| {
        bench.iter(|| raw_verify_only(black_box(&decoded), black_box(msg), black_box(sig)))
    });
    c.bench_function(
        "raw signature check (decode key + verify_strict)",
        |bench| bench.iter(|| raw_check(black_box(key), black_box(msg), black_box(sig))),
    );
    c.bench_function("4 raw signature checks", |bench| {
        bench.iter(|| all_raw(black_box(b)))
    });
    let cold = Validator::new(Limits::default(), 0);
    c.bench_function("validate cold (3 proofs + invocation)", |bench| {
        bench.iter(|| validate(b, &cold, black_box(&b.chain.invocation.bytes)))
    });
    let warm = Validator::new(Limits::default(), 1024);
    assert!(validate(b, &warm, &b.chain.invocation.bytes));
    c.bench_function("validate memoized (proofs cached)", |bench| {
        bench.iter(|| validate(b, &warm, black_box(&b.chain.invocation.bytes)))
    });
}

/// Median over rounds of (time of `ours` / time of `base`), each round timing both
/// back to back for the same number of iterations.
fn interleaved_ratio(
    rounds: usize,
    iters: u32,
    mut ours: impl FnMut(),
    mut base: impl FnMut(),
) -> (f64, Duration, Duration) {
    let mut ratios = Vec::with_capacity(rounds);
    let (mut total_ours, mut total_base) = (Duration::ZERO, Duration::ZERO);
    for round in 0..rounds {
        let time = |f: &mut dyn FnMut()| {
            let start = Instant::now();
            for _ in 0..iters {
                f();
            }
            start.elapsed()
        };
        // Alternate which side goes first.
        let (o, r) = if round % 2 == 0 {
            let o = time(&mut ours);
            (o, time(&mut base))
        } else {
            let r = time(&mut base);
            (time(&mut ours), r)
        };
        total_ours += o;
        total_base += r;
        ratios.push(o.as_secs_f64() / r.as_secs_f64());
    }
    ratios.sort_by(f64::total_cmp);
    let per = |d: Duration| d / (rounds as u32 * iters);
    (ratios[rounds / 2], per(total_ours), per(total_base))
}

fn ratios(b: &Bench) {
    let cold = Validator::new(Limits::default(), 0);
    let warm = Validator::new(Limits::default(), 1024);
    let inv = &b.chain.invocation.bytes;
    assert!(validate(b, &cold, inv) && validate(b, &warm, inv) && all_raw(b));
    let (key, msg, sig) = &b.signatures[3];
    let decoded = VerifyingKey::from_bytes(key).expect("valid key");

    // The validator caches proofs only, never invocations, so validating the same
    // invocation again costs what a fresh one would (its signature is checked each time).
    println!("\nratios (median of interleaved rounds, same run):");
    let (r, ours, base) = interleaved_ratio(
        41,
        200,
        || {
            black_box(validate(b, &cold, inv));
        },
        || {
            black_box(all_raw(b));
        },
    );
    println!(
        "  cold validation / 4 signature checks      = {r:.3}  ({ours:?} vs {base:?})  target <= 1.15"
    );
    let four_eq = || {
        for (k, m, s) in &b.signatures {
            let key = VerifyingKey::from_bytes(k).expect("valid key");
            black_box(raw_verify_only(&key, m, s));
        }
    };
    let (r2, _, _) = interleaved_ratio(
        41,
        200,
        || {
            black_box(validate(b, &cold, inv));
        },
        four_eq,
    );
    println!("  (same, keys decoded inside the baseline)  = {r2:.3}");
    let (r, ours, base) = interleaved_ratio(
        41,
        400,
        || {
            black_box(validate(b, &warm, inv));
        },
        || {
            black_box(raw_check(key, msg, sig));
        },
    );
    println!(
        "  memoized validation / 1 signature check   = {r:.3}  ({ours:?} vs {base:?})  target <= 1.25"
    );
    let (r, _, _) = interleaved_ratio(
        41,
        400,
        || {
            black_box(validate(b, &warm, inv));
        },
        || {
            black_box(raw_verify_only(&decoded, msg, sig));
        },
    );
    println!("  memoized / verify_strict with key decoded = {r:.3}");
}

fn main() {
    let bench = setup();
    let mut c = Criterion::default()
        .configure_from_args()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    criterion_benches(&mut c, &bench);
    c.final_summary();
    ratios(&bench);
}
