//! Long property runs over hostile input, in place of a coverage-guided fuzzer: the token
//! parser (`Envelope::open`, `Validator::validate`), the container reader, and the policy
//! parser and evaluator get mutated and random input. None may panic, and the work each
//! input costs is bounded by the core's own counters, not by a clock: inputs over a size
//! limit are refused before any decoding, and policy evaluation ends within its step
//! budget (an evaluation that finishes under a budget finishes the same way under any
//! larger one, and one that runs out says so).
//!
//! `COUNTERSIGN_FUZZ_CASES` sets the cases per property (default 256); the long run is
//! `COUNTERSIGN_FUZZ_CASES=1000000 cargo test --release -p countersign-core --test it fuzz`.

use countersign_core::container::{Container, ContainerError, ContainerLimits};
use countersign_core::envelope::Envelope;
use countersign_core::policy::{MatchFailure, Policy, PolicyLimits};
use countersign_core::sample::SampleChain;
use countersign_core::validate::{Context, Limits, NoRevocations, ProofSet, Validator};
use countersign_core::{Map, Value, json};
use proptest::prelude::*;
use proptest::test_runner::Config;

fn config() -> Config {
    let cases = std::env::var("COUNTERSIGN_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    Config {
        cases,
        // Shrinking a million-case run's failure is still quick; keep the file quiet.
        failure_persistence: None,
        ..Config::default()
    }
}

fn sample() -> &'static (SampleChain, Vec<Vec<u8>>) {
    static SAMPLE: std::sync::OnceLock<(SampleChain, Vec<Vec<u8>>)> = std::sync::OnceLock::new();
    SAMPLE.get_or_init(|| {
        let chain = SampleChain::build().expect("sample chain");
        let mut tokens = chain.proof_bytes();
        tokens.push(chain.invocation.bytes.clone());
        (chain, tokens)
    })
}

/// One edit of a byte string: flip, overwrite, insert, delete, truncate or splice.
#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Set(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Truncate(usize),
    Duplicate(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 1u8..).prop_map(|(i, b)| Edit::Flip(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..9))
            .prop_map(|(i, b)| Edit::Insert(i, b)),
        (any::<usize>(), 1usize..16).prop_map(|(i, n)| Edit::Delete(i, n)),
        any::<usize>().prop_map(Edit::Truncate),
        (any::<usize>(), 1usize..32).prop_map(|(i, n)| Edit::Duplicate(i, n)),
    ]
}

fn apply(bytes: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    for e in edits {
        if b.is_empty() {
            break;
        }
        let at = |i: usize, len: usize| i % len;
        match e {
            Edit::Flip(i, x) => {
                let i = at(*i, b.len());
                b[i] ^= x;
            }
            Edit::Set(i, x) => {
                let i = at(*i, b.len());
                b[i] = *x;
            }
            Edit::Insert(i, x) => {
                let i = at(*i, b.len() + 1);
                b.splice(i..i, x.iter().copied());
            }
            Edit::Delete(i, n) => {
                let i = at(*i, b.len());
                let end = (i + n).min(b.len());
                b.drain(i..end);
            }
            Edit::Truncate(i) => b.truncate(at(*i, b.len())),
            Edit::Duplicate(i, n) => {
                let i = at(*i, b.len());
                let end = (i + n).min(b.len());
                let copy = b[i..end].to_vec();
                b.splice(end..end, copy);
            }
        }
    }
    b
}

fn validator() -> Validator {
    Validator::new(Limits::default(), 0)
}

fn context() -> Context<'static> {
    Context {
        now: countersign_core::sample::ISSUED_AT + 1,
        audience: None,
        revocations: &NoRevocations,
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_mutated_token_never_panics_the_parser_or_the_validator(
        which in 0usize..4,
        edits in proptest::collection::vec(edit(), 1..6),
    ) {
        let (_, tokens) = sample();
        let token = apply(&tokens[which], &edits);
        let _ = Envelope::open(&token);
        let mut proofs: Vec<Vec<u8>> = tokens[..3].to_vec();
        if which < 3 {
            proofs[which] = token.clone();
            let _ = validator().validate(&tokens[3], &ProofSet::new(proofs), &context());
        } else {
            let _ = validator().validate(&token, &ProofSet::new(proofs), &context());
        }
    }

    #[test]
    fn random_bytes_never_panic_the_parser(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Envelope::open(&bytes);
        let (_, tokens) = sample();
        let _ = validator().validate(&bytes, &ProofSet::new(tokens[..3].to_vec()), &context());
    }

    #[test]
    fn a_mutated_container_never_panics_the_reader(
        text in any::<bool>(),
        edits in proptest::collection::vec(edit(), 1..6),
    ) {
        let (_, tokens) = sample();
        let container = Container::new(tokens.clone());
        let bytes = if text { container.to_text().into_bytes() } else { container.to_cbor() };
        let limits = ContainerLimits::default();
        if let Ok(read) = Container::parse(&apply(&bytes, &edits), &limits) {
            prop_assert!(read.len() <= limits.max_tokens);
        }
    }

    #[test]
    fn policies_from_random_values_parse_or_refuse_and_evaluate_within_budget(
        policy in policy_value(),
        args in args_value(),
        budget in 1usize..256,
    ) {
        let Ok(policy) = Policy::parse(&policy, &PolicyLimits::default()) else {
            return Ok(());
        };
        let full = policy.matches(&args, &PolicyLimits::default());
        let small = PolicyLimits { max_steps: budget, ..PolicyLimits::default() };
        match policy.matches(&args, &small) {
            // Under a smaller budget the evaluation either gives the same verdict or
            // stops, saying so; it never gives a different verdict.
            Err(MatchFailure::BudgetExceeded { limit, .. }) => prop_assert_eq!(limit, budget),
            other => prop_assert_eq!(other.is_ok(), full.is_ok()),
        }
    }
}

#[test]
fn oversized_input_is_refused_before_decoding() {
    let limits = ContainerLimits::default();
    let huge = vec![b'A'; limits.max_bytes + 1];
    assert!(matches!(
        Container::parse(&huge, &limits),
        Err(ContainerError::TooLarge { .. })
    ));
    let (_, tokens) = sample();
    let mut token = tokens[3].clone();
    token.resize(Limits::default().max_token_bytes + 1, 0);
    assert!(
        validator()
            .validate(&token, &ProofSet::new(tokens[..3].to_vec()), &context())
            .is_err()
    );
}

#[test]
fn a_policy_that_needs_more_steps_than_its_budget_is_refused() {
    // `all` over a long list, each element checked: one step per element at least.
    let policy = json::parse(r#"[["all", ".xs", ["==", ".", 1]]]"#).unwrap();
    let policy = Policy::parse(&policy, &PolicyLimits::default()).unwrap();
    let mut args = Map::new();
    args.insert("xs", Value::List(vec![Value::from(1i64); 10_000]));
    let args = Value::Map(args);
    assert!(policy.matches(&args, &PolicyLimits::default()).is_ok());
    let tight = PolicyLimits {
        max_steps: 100,
        ..PolicyLimits::default()
    };
    assert!(matches!(
        policy.matches(&args, &tight),
        Err(MatchFailure::BudgetExceeded { limit: 100, .. })
    ));
}

fn selector() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(".".to_owned()),
        "\\.[a-c]{1,2}",
        "\\.[a-c]\\[[0-9]\\]",
        "\\.[a-c]\\[\\]",
        "\\.[a-c]\\?",
        "[.\\[\\]a-c0-9?\"-]{0,8}",
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-5i64..5).prop_map(Value::from),
        "[a-c*\\\\]{0,5}".prop_map(Value::String),
    ]
}

fn s(text: &str) -> Value {
    Value::String(text.to_owned())
}

fn statement() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        (
            prop_oneof![
                Just("=="),
                Just("!="),
                Just("<"),
                Just("<="),
                Just(">"),
                Just(">="),
                Just("like"),
                Just("bogus")
            ],
            selector(),
            scalar()
        )
            .prop_map(|(op, sel, v)| Value::List(vec![s(op), s(&sel), v])),
        scalar(),
    ];
    leaf.prop_recursive(6, 64, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4)
                .prop_map(|xs| { Value::List(vec![s("and"), Value::List(xs)]) }),
            proptest::collection::vec(inner.clone(), 0..4)
                .prop_map(|xs| { Value::List(vec![s("or"), Value::List(xs)]) }),
            inner.clone().prop_map(|x| Value::List(vec![s("not"), x])),
            (prop_oneof![Just("all"), Just("any")], selector(), inner)
                .prop_map(|(op, sel, x)| Value::List(vec![s(op), s(&sel), x])),
        ]
    })
}

fn policy_value() -> impl Strategy<Value = Value> {
    proptest::collection::vec(statement(), 0..5).prop_map(Value::List)
}

fn args_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::List),
            proptest::collection::vec(("[a-c]{1,2}", inner), 0..4)
                .prop_map(|e| Value::Map(e.into_iter().collect::<Map>())),
        ]
    })
}
