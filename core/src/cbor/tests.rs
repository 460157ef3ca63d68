//! Round trips and every kind of non-canonical input the decoder must refuse.

use super::*;
use crate::cid::Cid;
use crate::value::{Map, Value};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or(0))
        .collect()
}

fn rejects(hex_bytes: &str, reason: &str) {
    let err = decode(&hex(hex_bytes)).expect_err(hex_bytes);
    assert!(
        err.reason.contains(reason),
        "{hex_bytes}: expected {reason:?}, got {err}"
    );
}

#[test]
fn round_trips_every_kind() {
    let map: Map = [
        ("int", Value::Integer(-(1i128 << 64))),
        ("big", Value::Integer(u64::MAX.into())),
        ("f", Value::Float(-1.5)),
        ("s", Value::from("héllo")),
        ("b", Value::Bytes(vec![0, 1, 2])),
        (
            "l",
            Value::List(vec![Value::Null, Value::Bool(true), Value::Bool(false)]),
        ),
        ("cid", Value::Link(Cid::dag_cbor(b"x"))),
    ]
    .into_iter()
    .collect();
    let value = Value::Map(map);
    let bytes = encode(&value);
    assert_eq!(decode(&bytes), Ok(value));
}

#[test]
fn encodes_known_vectors() {
    assert_eq!(encode(&Value::Integer(0)), hex("00"));
    assert_eq!(encode(&Value::Integer(23)), hex("17"));
    assert_eq!(encode(&Value::Integer(24)), hex("1818"));
    assert_eq!(encode(&Value::Integer(1000)), hex("1903e8"));
    assert_eq!(encode(&Value::Integer(-1)), hex("20"));
    assert_eq!(encode(&Value::Float(1.0)), hex("fb3ff0000000000000"));
    let map: Map = [("bb", Value::Null), ("a", Value::Null)]
        .into_iter()
        .collect();
    // {"bb": null, "a": null} is written with the shorter key first.
    assert_eq!(encode(&Value::Map(map)), hex("a26161f6626262f6"));
}

#[test]
fn rejects_non_minimal_integers_and_lengths() {
    rejects("1817", "shortest");
    rejects("190017", "shortest");
    rejects("1a000000ff", "shortest");
    rejects("1b00000000ffffffff", "shortest");
    rejects("3817", "shortest");
    rejects("5801ff", "shortest");
}

#[test]
fn rejects_indefinite_lengths() {
    rejects("9fff", "indefinite");
    rejects("bfff", "indefinite");
    rejects("5f41ffff", "indefinite");
    rejects("7f61ffff", "indefinite");
}

#[test]
fn rejects_map_disorder_and_duplicates() {
    // {"b": null, "a": null}
    rejects("a26162f66161f6", "canonical order");
    // {"aa": null, "b": null}: shorter keys come first
    rejects("a2626161f66162f6", "canonical order");
    rejects("a26161f66161f6", "duplicate");
    rejects("a101f6", "keys must be strings");
}

#[test]
fn rejects_floats_other_than_finite_f64() {
    rejects("f93c00", "64 bits");
    rejects("fa3f800000", "64 bits");
    rejects("fb7ff8000000000000", "NaN");
    rejects("fb7ff0000000000000", "NaN");
}

#[test]
fn rejects_other_tags_simples_and_trailing_bytes() {
    rejects("c100", "tag 42");
    rejects("f7", "undefined");
    rejects("f0", "simple values");
    rejects("0000", "trailing");
    rejects("62c328", "UTF-8");
    rejects("d82a4101", "0x00");
    rejects("5a7fffffff", "exceeds");
    rejects("9b7fffffffffffffff", "exceeds");
}

#[test]
fn bounds_nesting() {
    let deep = vec![0x81u8; MAX_DEPTH + 1]
        .into_iter()
        .chain([0xf6])
        .collect::<Vec<_>>();
    assert_eq!(
        decode(&deep).map_err(|e| e.reason),
        Err("nested too deeply")
    );
    let ok = vec![0x81u8; MAX_DEPTH]
        .into_iter()
        .chain([0xf6])
        .collect::<Vec<_>>();
    assert!(decode(&ok).is_ok());
}
