//! Every case of the official UCAN 1.0 policy fixtures: each policy of a "valid" case must
//! match its arguments, each policy of an "invalid" case must not.

use countersign_core::Value;
use countersign_core::json;
use countersign_core::policy::{Policy, PolicyLimits};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/fixtures/ucan-1.0/policy.json"
);

fn fixture() -> Value {
    let text = std::fs::read_to_string(FIXTURE).unwrap_or_else(|e| panic!("{FIXTURE}: {e}"));
    json::parse(&text).unwrap_or_else(|e| panic!("{FIXTURE}: {e}"))
}

/// The (args, policies) pairs of one section.
fn cases<'a>(fixture: &'a Value, section: &str) -> Vec<(&'a Value, &'a [Value])> {
    let list = fixture
        .as_map()
        .and_then(|m| m.get(section))
        .and_then(Value::as_list)
        .unwrap_or_else(|| panic!("the fixture has no list {section:?}"));
    list.iter()
        .enumerate()
        .map(|(i, case)| {
            let case = case
                .as_map()
                .unwrap_or_else(|| panic!("{section} case {i} is not a map"));
            let args = case
                .get("args")
                .unwrap_or_else(|| panic!("{section} case {i} has no args"));
            let policies = case
                .get("policies")
                .and_then(Value::as_list)
                .unwrap_or_else(|| panic!("{section} case {i} has no policies"));
            (args, policies)
        })
        .collect()
}

/// Runs every policy of a section; returns how many were checked.
fn run(section: &str, should_match: bool) -> usize {
    let fixture = fixture();
    let limits = PolicyLimits::default();
    let mut checked = 0;
    for (i, (args, policies)) in cases(&fixture, section).into_iter().enumerate() {
        for (j, value) in policies.iter().enumerate() {
            let policy = Policy::parse(value, &limits)
                .unwrap_or_else(|e| panic!("{section} case {i}, policy {j}: does not parse: {e}"));
            assert_eq!(
                &policy.to_value(),
                value,
                "{section} case {i}, policy {j}: round trip"
            );
            let result = policy.matches(args, &limits);
            if should_match {
                assert_eq!(
                    result,
                    Ok(()),
                    "{section} case {i}, policy {j} should match"
                );
            } else {
                assert!(
                    result.is_err(),
                    "{section} case {i}, policy {j} should not match"
                );
            }
            checked += 1;
        }
    }
    checked
}

#[test]
fn valid_cases_match() {
    let checked = run("valid", true);
    assert!(checked > 0, "no valid cases were found");
}

#[test]
fn invalid_cases_do_not_match() {
    let checked = run("invalid", false);
    assert!(checked > 0, "no invalid cases were found");
}

#[test]
fn failures_name_the_statement_and_the_value() {
    let args = json::parse(r#"{"amount": 5000}"#).unwrap_or_else(|e| panic!("{e}"));
    let pol = json::parse(r#"[["<=", ".amount", 4900]]"#).unwrap_or_else(|e| panic!("{e}"));
    let limits = PolicyLimits::default();
    let policy = Policy::parse(&pol, &limits).unwrap_or_else(|e| panic!("{e}"));
    let failure = policy.matches(&args, &limits).err().map(|f| f.to_string());
    assert_eq!(
        failure.as_deref(),
        Some(r#"policy statement ["<=", ".amount", 4900] does not hold: .amount is 5000"#)
    );
}
