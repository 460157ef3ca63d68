//! The errors of the policy language: [`PolicyError`] for a policy that cannot be parsed,
//! [`MatchFailure`] for arguments that a valid policy does not allow.

use std::fmt;

use super::like::PatternError;
use super::selector::SelectorError;

/// Why a value is not a valid policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("a policy must be a list of statements, found {found}")]
    NotAList { found: &'static str },
    #[error("{at}: {problem}")]
    Invalid { at: Location, problem: Problem },
    #[error("policy nested deeper than {limit} levels (at {at})")]
    TooDeep { at: Location, limit: usize },
    #[error("policy has more than {limit} statements")]
    TooManyStatements { limit: usize },
}

/// What is wrong with one statement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("a statement must be a list, found {found}")]
    NotAList { found: &'static str },
    #[error("a statement cannot be an empty list")]
    Empty,
    #[error("the operator must be a string, found {found}")]
    OperatorNotString { found: &'static str },
    #[error("unknown operator {0:?}")]
    UnknownOperator(String),
    #[error("{operator:?} must have the form {form}, found a list of {found}")]
    Arity {
        operator: &'static str,
        form: &'static str,
        found: usize,
    },
    #[error("the selector of {operator:?} must be a string, found {found}")]
    SelectorNotString {
        operator: &'static str,
        found: &'static str,
    },
    #[error(transparent)]
    Selector(#[from] SelectorError),
    #[error("{operator:?} compares with a number, found {found}")]
    NotANumber {
        operator: &'static str,
        found: &'static str,
    },
    #[error("the pattern of \"like\" must be a string, found {found}")]
    PatternNotString { found: &'static str },
    #[error(transparent)]
    Pattern(#[from] PatternError),
    #[error("{operator:?} takes a list of statements, found {found}")]
    StatementsNotAList {
        operator: &'static str,
        found: &'static str,
    },
}

/// Where a statement sits in a policy: the index of its top-level statement, then the way
/// down through nested connectives and quantifiers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Location {
    pub steps: Vec<LocationStep>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocationStep {
    /// The n-th statement of the policy.
    Top(usize),
    /// The n-th statement in the list of an `and` / `or`.
    Item {
        operator: &'static str,
        index: usize,
    },
    /// The statement inside a `not`, `all` or `any`.
    Inside { operator: &'static str },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.steps.is_empty() {
            return f.write_str("the policy");
        }
        for (i, step) in self.steps.iter().enumerate() {
            if i > 0 {
                f.write_str(" > ")?;
            }
            match step {
                LocationStep::Top(n) => write!(f, "statement {n}")?,
                LocationStep::Item { operator, index } => write!(f, "{operator:?} item {index}")?,
                LocationStep::Inside { operator } => write!(f, "inside {operator:?}")?,
            }
        }
        Ok(())
    }
}

/// Why arguments do not satisfy a policy. Evaluation fails closed: running out of the step
/// budget is a failure too.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatchFailure {
    /// A top-level statement is false for these arguments.
    #[error("policy statement {statement} does not hold: {reason}")]
    DoesNotHold {
        /// The index of the statement in the policy.
        index: usize,
        /// The statement as JSON-like text (cut when long).
        statement: String,
        /// Why it is false, in words.
        reason: String,
    },
    /// Checking the policy took more than the allowed number of steps.
    #[error(
        "policy evaluation needed more than {limit} steps (at statement {index}); the arguments are refused"
    )]
    BudgetExceeded { index: usize, limit: usize },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_read_as_paths() {
        let at = Location {
            steps: vec![
                LocationStep::Top(2),
                LocationStep::Item {
                    operator: "and",
                    index: 1,
                },
                LocationStep::Inside { operator: "not" },
            ],
        };
        assert_eq!(
            at.to_string(),
            "statement 2 > \"and\" item 1 > inside \"not\""
        );
        let err = PolicyError::Invalid {
            at: Location {
                steps: vec![LocationStep::Top(2)],
            },
            problem: Problem::UnknownOperator("~=".to_owned()),
        };
        assert_eq!(err.to_string(), "statement 2: unknown operator \"~=\"");
    }
}
