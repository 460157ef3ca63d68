//! The UCAN 1.0 policy language: the `pol` field of a delegation, a list of statements
//! that an invocation's `args` must all satisfy.
//!
//! ```text
//! [
//!   ["==", ".from", "alice@example.com"],
//!   ["any", ".to", ["like", ".", "*@example.com"]],
//!   ["<=", ".amount", 4900]
//! ]
//! ```
//!
//! [`Policy::parse`] reads the IPLD form strictly, within [`PolicyLimits`];
//! [`Policy::matches`] checks arguments within a step budget and says which statement
//! failed and why. Where the spec leaves room, the choices made are documented in the
//! files concerned: `selector.rs` (grammar), `resolve.rs` (what selectors yield),
//! `eval.rs` (truth of each operator) and `like.rs` (patterns).

mod error;
mod eval;
mod like;
mod render;
mod resolve;
mod selector;
mod selector_grammar;
mod statement;

#[cfg(test)]
mod eval_tests;
#[cfg(test)]
mod proptests;

use std::fmt;

pub use error::{Location, LocationStep, MatchFailure, PolicyError, Problem};
pub use like::{Pattern, PatternError};
pub use selector::{Access, Segment, Selector, SelectorError, SelectorProblem};
pub use statement::Statement;

use crate::value::Value;
use eval::{Budget, Eval, Exhausted, Verdict};

/// Bounds on the size of a policy and the cost of checking it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyLimits {
    /// How deeply statements may nest (a top-level statement is at depth 1).
    pub max_depth: usize,
    /// How many statements a policy may hold, counting nested ones.
    pub max_statements: usize,
    /// How many evaluation steps one check may take: one per statement evaluated, per
    /// selector segment applied and per element visited by `[]`, `all` or `any`.
    pub max_steps: usize,
}

impl Default for PolicyLimits {
    fn default() -> Self {
        PolicyLimits {
            max_depth: 16,
            max_statements: 1024,
            max_steps: 100_000,
        }
    }
}

/// A parsed policy: every statement must hold. The empty policy allows anything.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Policy {
    statements: Vec<Statement>,
}

impl Policy {
    /// Parses the IPLD list form used in tokens.
    pub fn parse(value: &Value, limits: &PolicyLimits) -> Result<Policy, PolicyError> {
        let statements = statement::Parser::new(limits).policy(value)?;
        Ok(Policy { statements })
    }

    /// A policy made of already-built statements (trusted: no limits are applied).
    pub fn new(statements: Vec<Statement>) -> Policy {
        Policy { statements }
    }

    /// The IPLD list form; for a parsed policy, exactly the value it was parsed from.
    pub fn to_value(&self) -> Value {
        Value::List(self.statements.iter().map(Statement::to_value).collect())
    }

    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }

    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// Checks `args` against every statement, in order, within `limits.max_steps` steps
    /// in total. The first statement that does not hold is reported.
    pub fn matches(&self, args: &Value, limits: &PolicyLimits) -> Result<(), MatchFailure> {
        let mut budget = Budget::new(limits.max_steps);
        for (index, statement) in self.statements.iter().enumerate() {
            check_one(index, statement, args, limits, &mut budget)?;
        }
        Ok(())
    }
}

impl Statement {
    /// Checks `args` against this one statement, within `limits.max_steps` steps.
    pub fn matches(&self, args: &Value, limits: &PolicyLimits) -> Result<(), MatchFailure> {
        check_one(0, self, args, limits, &mut Budget::new(limits.max_steps))
    }
}

/// Checks one top-level statement quietly; when it fails, checks it again to explain why.
fn check_one(
    index: usize,
    statement: &Statement,
    args: &Value,
    limits: &PolicyLimits,
    budget: &mut Budget,
) -> Result<(), MatchFailure> {
    let exceeded = |_: Exhausted| MatchFailure::BudgetExceeded {
        index,
        limit: limits.max_steps,
    };
    let quiet = Eval {
        budget,
        explain: false,
    }
    .check(statement, args)
    .map_err(exceeded)?;
    if quiet == Verdict::Holds {
        return Ok(());
    }
    // The second run takes the same path, so a fresh budget of the same size suffices.
    let explained = Eval {
        budget: &mut Budget::new(limits.max_steps),
        explain: true,
    }
    .check(statement, args);
    let reason = match explained {
        Ok(Verdict::Fails(reason)) => reason,
        _ => "it is false for these arguments".to_owned(),
    };
    Err(MatchFailure::DoesNotHold {
        index,
        statement: render::value(&statement.to_value(), 240),
        reason,
    })
}

/// Compact JSON text of the IPLD form.
impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", crate::json::to_json(&self.to_value()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Value {
        match crate::json::parse(text) {
            Ok(v) => v,
            Err(e) => panic!("{text}: {e}"),
        }
    }

    fn policy(text: &str) -> Policy {
        match Policy::parse(&json(text), &PolicyLimits::default()) {
            Ok(p) => p,
            Err(e) => panic!("{text}: {e}"),
        }
    }

    fn error(text: &str) -> String {
        match Policy::parse(&json(text), &PolicyLimits::default()) {
            Ok(p) => panic!("{text} should be rejected, got {p:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn parses_every_operator_and_round_trips() {
        let text = r#"[
            ["==", ".a", [1, 2, {"b": 3}]], ["!=", ".b", null],
            [">", ".n", 1], [">=", ".n", 1.5], ["<", ".n", -2], ["<=", ".n", 0],
            ["like", ".s", "a\\*b*"], ["not", ["==", ".", 1]],
            ["and", []], ["or", [["==", ".a?", 1], ["==", ".[\"x.y\"]", 2]]],
            ["all", ".l", ["any", ".m[]", [">", ".", 0]]]
        ]"#;
        let parsed = policy(text);
        assert_eq!(parsed.statements().len(), 11);
        assert_eq!(parsed.to_value(), json(text));
        let operators: Vec<_> = parsed
            .statements()
            .iter()
            .map(Statement::operator)
            .collect();
        assert_eq!(
            operators,
            [
                "==", "!=", ">", ">=", "<", "<=", "like", "not", "and", "or", "all"
            ]
        );
        assert_eq!(
            Policy::parse(&parsed.to_value(), &PolicyLimits::default()),
            Ok(parsed)
        );
    }

    #[test]
    fn keeps_selector_text_as_written() {
        let text = r#"[["==", ".a??.[0]", 1], ["==", ".[\"b\"]", 2]]"#;
        let parsed = policy(text);
        assert_eq!(parsed.to_value(), json(text));
        assert_eq!(
            parsed.to_string(),
            r#"[["==",".a??.[0]",1],["==",".[\"b\"]",2]]"#
        );
        let Statement::Equal(selector, _) = &parsed.statements()[0] else {
            panic!("==")
        };
        assert_eq!(selector.to_string(), ".a?[0]");
    }

    #[test]
    fn empty_policy_allows_anything() {
        let empty = policy("[]");
        assert!(empty.is_empty());
        assert_eq!(
            empty.matches(&Value::Null, &PolicyLimits::default()),
            Ok(())
        );
    }

    #[test]
    fn strict_rejections_say_what_and_where() {
        assert_eq!(
            error("{}"),
            "a policy must be a list of statements, found a map"
        );
        assert_eq!(
            error("[1]"),
            "statement 0: a statement must be a list, found an integer"
        );
        assert_eq!(
            error("[[]]"),
            "statement 0: a statement cannot be an empty list"
        );
        assert_eq!(
            error("[[1, \".\"]]"),
            "statement 0: the operator must be a string, found an integer"
        );
        assert_eq!(
            error(r#"[["==", ".a", 1], ["==", ".b", 1], ["~=", ".a", 1]]"#),
            "statement 2: unknown operator \"~=\""
        );
        assert_eq!(
            error(r#"[["==", ".a"]]"#),
            "statement 0: \"==\" must have the form [\"==\", selector, value], found a list of 2"
        );
        assert_eq!(
            error(r#"[["not", ["==", ".a", 1], 2]]"#),
            "statement 0: \"not\" must have the form [\"not\", statement], found a list of 3"
        );
        assert_eq!(
            error(r#"[["<", ".a", "5"]]"#),
            "statement 0: \"<\" compares with a number, found a string"
        );
        assert_eq!(
            error(r#"[["like", ".a", 5]]"#),
            "statement 0: the pattern of \"like\" must be a string, found an integer"
        );
        assert_eq!(
            error(r#"[["like", ".a", "x\\y"]]"#),
            "statement 0: pattern \"x\\\\y\": \"\\y\" is not an escape (only \\* and \\\\ are)"
        );
        assert_eq!(
            error(r#"[["==", ".a[", 1]]"#),
            "statement 0: selector \".a[\": unterminated index"
        );
        assert_eq!(
            error(r#"[["==", 5, 1]]"#),
            "statement 0: the selector of \"==\" must be a string, found an integer"
        );
        assert_eq!(
            error(r#"[["and", [["or", {}]]]]"#),
            "statement 0 > \"and\" item 0: \"or\" takes a list of statements, found a map"
        );
        assert_eq!(
            error(r#"[["all", ".a", ["not", ["bad"]]]]"#),
            "statement 0 > inside \"all\" > inside \"not\": unknown operator \"bad\""
        );
        assert!(
            error(r#"[["and", ["==", ".a", 1]]]"#).starts_with("statement 0 > \"and\" item 0:")
        );
        assert!(error(r#"[["or", [], []]]"#).contains("found a list of 3"));
        assert!(error(r#"[["NOT", ["==", ".a", 1]]]"#).contains("unknown operator \"NOT\""));
    }

    #[test]
    fn limits_are_enforced() {
        let mut nested = r#"["==", ".a", 1]"#.to_owned();
        for _ in 0..16 {
            nested = format!(r#"["not", {nested}]"#);
        }
        // 17 levels: one too many for the default.
        let err = error(&format!("[{nested}]"));
        assert!(
            err.starts_with("policy nested deeper than 16 levels (at statement 0 > inside \"not\""),
            "{err}"
        );
        let shallower = nested.replacen(r#"["not", "#, "", 1);
        let shallower = shallower.strip_suffix(']').unwrap_or(&shallower);
        assert!(Policy::parse(&json(&format!("[{shallower}]")), &PolicyLimits::default()).is_ok());

        let many = vec![r#"["==", ".a", 1]"#; 1025].join(",");
        assert_eq!(
            error(&format!("[{many}]")),
            "policy has more than 1024 statements"
        );
        let tight = PolicyLimits {
            max_statements: 3,
            ..PolicyLimits::default()
        };
        let three = json(r#"[["and", [["==", ".a", 1], ["==", ".b", 1]]]]"#);
        assert!(Policy::parse(&three, &tight).is_ok());
        let four = json(r#"[["and", [["==", ".a", 1], ["not", ["==", ".b", 1]]]]]"#);
        assert_eq!(
            Policy::parse(&four, &tight),
            Err(PolicyError::TooManyStatements { limit: 3 })
        );
    }

    #[test]
    fn budget_exceeded_fails_closed() {
        let big = Value::List((0..1000i64).map(Value::from).collect());
        let p = policy(r#"[["all", ".", [">=", ".", 0]]]"#);
        let limits = PolicyLimits {
            max_steps: 500,
            ..PolicyLimits::default()
        };
        assert_eq!(
            p.matches(&big, &limits),
            Err(MatchFailure::BudgetExceeded {
                index: 0,
                limit: 500
            })
        );
        // Exhaustion is not a verdict: `not` does not turn it into success.
        let negated = policy(r#"[["not", ["any", ".", ["<", ".", 0]]]]"#);
        assert!(matches!(
            negated.matches(&big, &limits),
            Err(MatchFailure::BudgetExceeded { .. })
        ));
        assert_eq!(p.matches(&big, &PolicyLimits::default()), Ok(()));
    }
}
