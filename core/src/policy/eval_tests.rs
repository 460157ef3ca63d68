//! Tests of the evaluation semantics, operator by operator, through whole policies:
//! truth values, the spec's rules for missing and unresolvable selectors, and the wording
//! of failure reasons.

use super::eval::values_equal;
use super::{MatchFailure, Policy, PolicyLimits};
use crate::value::Value;

fn json(text: &str) -> Value {
    crate::json::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

const ARGS: &str = r#"{"a": [1, {"b": 3}], "n": 35, "f": 2.5, "s": "Katie", "e": [], "z": null,
    "m": {"x": {"b": 1}, "y": {"b": 2}}, "l": [{"b": 1}, {"b": 2}, {"c": 0}]}"#;

/// Checks a one-statement policy against `ARGS`: `Ok` or the failure's reason.
fn check(statement: &str) -> Result<(), String> {
    let limits = PolicyLimits::default();
    let policy = Policy::parse(&json(&format!("[{statement}]")), &limits)
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
    match policy.matches(&json(ARGS), &limits) {
        Ok(()) => Ok(()),
        Err(MatchFailure::DoesNotHold { reason, .. }) => Err(reason),
        Err(other) => panic!("{statement}: {other}"),
    }
}

fn holds(statement: &str) -> bool {
    check(statement).is_ok()
}

#[test]
fn equality_is_deep_and_numeric() {
    assert!(holds(r#"["==", ".a", [1.0, {"b": 3.0}]]"#));
    assert!(holds(r#"["==", ".f", 2.5]"#));
    assert!(!holds(r#"["==", ".a", [1, {"b": 3}, 4]]"#));
    assert!(!holds(r#"["==", ".n", "35"]"#));
    assert!(holds(r#"["!=", ".n", "35"]"#));
    assert!(holds(r#"["==", ".l[].b?", [1, 2, null]]"#));
    assert!(!holds(r#"["==", ".l[].b?", [1, 2]]"#));
    assert_eq!(check(r#"["==", ".n", 36]"#), Err(".n is 35".into()));
    assert_eq!(
        check(r#"["!=", ".n", 35.0]"#),
        Err(".n is 35, which it must not be".into())
    );
}

#[test]
fn missing_and_unresolvable_selectors() {
    // A missing key is null (spec, "Validation"); a failed path makes the statement false.
    assert!(holds(r#"["==", ".nope", null]"#));
    assert!(!holds(r#"["!=", ".nope", null]"#));
    assert!(!holds(r#"["==", ".a[9]", 1]"#));
    assert!(holds(r#"["!=", ".a[9]", 1]"#));
    assert!(holds(r#"["not", ["==", ".a[9]", 1]]"#));
    assert!(holds(r#"["==", ".a[9]?", null]"#));
    assert_eq!(
        check(r#"[">", ".z.q", 1]"#),
        Err(".z.q cannot be selected: .z is null, not a map".into())
    );
}

#[test]
fn comparisons_need_numbers() {
    assert!(holds(r#"[">", ".n", 34.5]"#));
    assert!(holds(r#"[">=", ".n", 35]"#));
    assert!(holds(r#"["<", ".f", 3]"#));
    assert!(holds(r#"["<=", ".f", 2.5]"#));
    assert!(!holds(r#"["<", ".n", 35]"#));
    assert_eq!(
        check(r#"["<", ".s", 3]"#),
        Err(".s is a string, not a number".into())
    );
    assert_eq!(
        check(r#"["<", ".a[]", 3]"#),
        Err(".a[] is a list, not a number".into())
    );
    assert_eq!(
        check(r#"["<", ".nope", 3]"#),
        Err(".nope is null, not a number".into())
    );
}

#[test]
fn like_needs_a_string() {
    assert!(holds(r#"["like", ".s", "K*e"]"#));
    assert_eq!(
        check(r#"["like", ".s", "k*"]"#),
        Err(r#".s is "Katie", which does not match "k*""#.into())
    );
    assert_eq!(
        check(r#"["like", ".n", "*"]"#),
        Err(".n is an integer, not a string".into())
    );
}

#[test]
fn connectives() {
    assert!(holds(r#"["and", []]"#));
    assert!(holds(r#"["or", []]"#));
    assert!(holds(r#"["or", [["==", ".n", 1], ["==", ".n", 35]]]"#));
    assert_eq!(
        check(r#"["and", [["==", ".s", "Katie"], ["==", ".n", 1]]]"#),
        Err(r#"["==", ".n", 1] does not hold: .n is 35"#.into())
    );
    assert_eq!(
        check(r#"["or", [["==", ".n", 1], ["==", ".n", 2]]]"#),
        Err(r#"none of its 2 alternatives holds; the first, ["==", ".n", 1], does not because .n is 35"#.into())
    );
    assert_eq!(
        check(r#"["not", ["==", ".n", 35]]"#),
        Err(r#"["==", ".n", 35] holds"#.into())
    );
    assert!(holds(r#"["not", ["not", ["==", ".n", 35]]]"#));
}

#[test]
fn quantifiers_over_lists_and_maps() {
    assert!(holds(r#"["all", ".m", [">", ".b", 0]]"#));
    assert!(holds(r#"["any", ".m", ["==", ".b", 2]]"#));
    assert!(holds(r#"["any", ".l", ["==", ".b", 2]]"#));
    assert!(holds(r#"["all", ".e", ["==", ".", 1]]"#));
    assert!(holds(r#"["all", ".l[].b?", ["!=", ".", 5]]"#));
    assert_eq!(
        check(r#"["all", ".l", [">", ".b", 0]]"#),
        Err(r#"element 2 of .l does not satisfy [">", ".b", 0]: .b is null, not a number"#.into())
    );
    assert_eq!(
        check(r#"["all", ".m", [">", ".b", 1]]"#),
        Err(r#"the value at "x" of .m does not satisfy [">", ".b", 1]: .b is 1"#.into())
    );
    assert_eq!(
        check(r#"["any", ".e", ["==", ".", 1]]"#),
        Err(r#".e is empty, so nothing in it satisfies ["==", ".", 1]"#.into())
    );
    assert_eq!(
        check(r#"["any", ".l", ["==", ".b", 9]]"#),
        Err(r#"nothing in .l satisfies ["==", ".b", 9] (3 checked; element 0: .b is 1)"#.into())
    );
    assert_eq!(
        check(r#"["all", ".s", ["==", ".", 1]]"#),
        Err(".s is a string, not a list or map".into())
    );
    assert!(!holds(r#"["any", ".nope", ["==", ".", null]]"#));
}

#[test]
fn failure_message_names_the_statement() {
    let limits = PolicyLimits::default();
    let policy = Policy::parse(
        &json(r#"[["==", ".s", "Katie"], ["<=", ".n", 30]]"#),
        &limits,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let failure = policy.matches(&json(ARGS), &limits);
    assert_eq!(
        failure,
        Err(MatchFailure::DoesNotHold {
            index: 1,
            statement: r#"["<=", ".n", 30]"#.into(),
            reason: ".n is 35".into(),
        })
    );
    assert_eq!(
        failure.err().map(|f| f.to_string()).as_deref(),
        Some(r#"policy statement ["<=", ".n", 30] does not hold: .n is 35"#)
    );
}

#[test]
fn numbers_equal_across_kinds_at_any_depth() {
    assert!(values_equal(
        &json(r#"{"a": [1, 2.0]}"#),
        &json(r#"{"a": [1.0, 2]}"#)
    ));
    assert!(!values_equal(&json(r#"{"a": 1}"#), &json(r#"{"b": 1}"#)));
    assert!(!values_equal(&json("1"), &json("true")));
    assert!(!values_equal(&json("[1]"), &json("{\"0\": 1}")));
    assert!(values_equal(&json("null"), &json("null")));
}
