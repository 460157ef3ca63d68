//! Properties over generated input: round trips, no panics, and no forged or altered
//! token ever verifying.

use countersign_core::envelope::Envelope;
use countersign_core::sample::SampleChain;
use countersign_core::validate::{Context, Limits, NoRevocations, ProofSet, Validator};
use countersign_core::{Cid, Map, Value, cbor};
use proptest::prelude::*;

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (any::<u64>(), any::<bool>()).prop_map(|(n, neg)| {
            Value::Integer(if neg {
                -1 - i128::from(n)
            } else {
                i128::from(n)
            })
        }),
        any::<f64>()
            .prop_filter("DAG-CBOR floats are finite", |f| f.is_finite())
            .prop_map(Value::Float),
        ".{0,12}".prop_map(Value::String),
        proptest::collection::vec(any::<u8>(), 0..16).prop_map(Value::Bytes),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(|b| Value::Link(Cid::dag_cbor(&b))),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::List),
            proptest::collection::vec((".{0,6}", inner), 0..6)
                .prop_map(|entries| Value::Map(entries.into_iter().collect::<Map>())),
        ]
    })
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

fn validate(invocation: &[u8], proofs: Vec<Vec<u8>>) -> bool {
    let ctx = Context {
        now: countersign_core::sample::ISSUED_AT + 1,
        audience: None,
        revocations: &NoRevocations,
    };
    Validator::new(Limits::default(), 0)
        .validate(invocation, &ProofSet::new(proofs), &ctx)
        .is_ok()
}

proptest! {
    #[test]
    fn dag_cbor_round_trips(v in value()) {
        let bytes = cbor::encode(&v);
        prop_assert_eq!(cbor::decode(&bytes), Ok(v.clone()));
        // Canonical: encoding what we decoded gives the same bytes.
        prop_assert_eq!(cbor::encode(&cbor::decode(&bytes).unwrap()), bytes);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_parsers(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = cbor::decode(&bytes);
        let _ = Envelope::open(&bytes);
        prop_assert!(!validate(&bytes, vec![bytes.clone()]));
    }

    #[test]
    fn envelope_shaped_garbage_never_validates(tail in proptest::collection::vec(any::<u8>(), 0..256)) {
        // Past the envelope's fixed prefix, so the decoder gets further in.
        let mut bytes = vec![0x82, 0x58, 0x40];
        bytes.extend_from_slice(&[7; 64]);
        bytes.extend_from_slice(&tail);
        prop_assert!(!validate(&bytes, Vec::new()));
    }

    #[test]
    fn a_mutated_byte_anywhere_never_verifies(token in 0usize..4, at in any::<prop::sample::Index>(), flip in 1u8..=255) {
        let (_, tokens) = sample();
        let mut tokens = tokens.clone();
        let target = &mut tokens[token];
        let i = at.index(target.len());
        target[i] ^= flip;
        let invocation = tokens.pop().unwrap();
        prop_assert!(!validate(&invocation, tokens), "token {} byte {} ^ {:#x} still verified", token, i, flip);
    }
}

#[test]
fn the_unmutated_sample_chain_verifies() {
    let (_, tokens) = sample();
    let mut tokens = tokens.clone();
    let invocation = tokens.pop().unwrap();
    assert!(validate(&invocation, tokens));
}

#[test]
fn a_second_encoding_of_a_token_is_refused() {
    // Widen the delegation's `exp` integer from its 4-byte form to an 8-byte form: the same
    // value, another encoding, another CID. It must not open, let alone verify.
    let (chain, _) = sample();
    let bytes = &chain.delegations[0].bytes;
    let exp_key = [0x63, b'e', b'x', b'p', 0x1a];
    let at = bytes
        .windows(exp_key.len())
        .position(|w| w == exp_key)
        .expect("exp is a 4-byte integer");
    let mut widened = bytes[..at + 4].to_vec();
    widened.extend_from_slice(&[0x1b, 0, 0, 0, 0]);
    widened.extend_from_slice(&bytes[at + 5..]);
    assert_eq!(
        cbor::decode(&widened).map(|_| ()).unwrap_err().reason,
        "integer or length not in its shortest form"
    );
    assert!(Envelope::open(&widened).is_err());
}
