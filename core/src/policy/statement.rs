//! Policy statements: their tree form, and the conversion from and to the IPLD list form
//! that tokens carry (`["==", ".a", 1]`, `["and", [...]]`, `["not", [...]]`, …).

use std::fmt;

use super::PolicyLimits;
use super::error::{Location, LocationStep, PolicyError, Problem};
use super::like::Pattern;
use super::render::a_kind;
use super::selector::Selector;
use crate::value::{Number, Value};

/// One statement of a policy.
#[derive(Clone, Debug)]
pub enum Statement {
    /// `["==", selector, value]`: deep equality; integers and floats compare by value.
    Equal(Selector, Value),
    /// `["!=", selector, value]`: the same as `["not", ["==", selector, value]]`.
    NotEqual(Selector, Value),
    /// `[">", selector, number]`
    GreaterThan(Selector, Number),
    /// `[">=", selector, number]`
    GreaterOrEqual(Selector, Number),
    /// `["<", selector, number]`
    LessThan(Selector, Number),
    /// `["<=", selector, number]`
    LessOrEqual(Selector, Number),
    /// `["like", selector, pattern]`: glob match on a string.
    Like(Selector, Pattern),
    /// `["not", statement]`
    Not(Box<Statement>),
    /// `["and", [statement, …]]`: every one holds (true when empty).
    And(Vec<Statement>),
    /// `["or", [statement, …]]`: at least one holds (true when empty, as the spec says).
    Or(Vec<Statement>),
    /// `["all", selector, statement]`: holds for every element of a list or value of a map.
    All(Selector, Box<Statement>),
    /// `["any", selector, statement]`: holds for at least one element or value.
    Any(Selector, Box<Statement>),
}

impl Statement {
    /// The operator as written in the IPLD form.
    pub fn operator(&self) -> &'static str {
        match self {
            Statement::Equal(..) => "==",
            Statement::NotEqual(..) => "!=",
            Statement::GreaterThan(..) => ">",
            Statement::GreaterOrEqual(..) => ">=",
            Statement::LessThan(..) => "<",
            Statement::LessOrEqual(..) => "<=",
            Statement::Like(..) => "like",
            Statement::Not(_) => "not",
            Statement::And(_) => "and",
            Statement::Or(_) => "or",
            Statement::All(..) => "all",
            Statement::Any(..) => "any",
        }
    }

    /// The IPLD list form, exactly as it was parsed.
    pub fn to_value(&self) -> Value {
        let op = Value::from(self.operator());
        let sel = |s: &Selector| Value::from(s.as_str());
        let num = |n: &Number| match *n {
            Number::Integer(i) => Value::Integer(i),
            Number::Float(f) => Value::Float(f),
        };
        Value::List(match self {
            Statement::Equal(s, v) | Statement::NotEqual(s, v) => vec![op, sel(s), v.clone()],
            Statement::GreaterThan(s, n)
            | Statement::GreaterOrEqual(s, n)
            | Statement::LessThan(s, n)
            | Statement::LessOrEqual(s, n) => vec![op, sel(s), num(n)],
            Statement::Like(s, p) => vec![op, sel(s), Value::from(p.as_str())],
            Statement::Not(inner) => vec![op, inner.to_value()],
            Statement::And(items) | Statement::Or(items) => {
                vec![
                    op,
                    Value::List(items.iter().map(Statement::to_value).collect()),
                ]
            }
            Statement::All(s, inner) | Statement::Any(s, inner) => {
                vec![op, sel(s), inner.to_value()]
            }
        })
    }
}

/// Structural equality: the same operators, selectors and patterns as written, and
/// identical operands (an integer operand never equals a float one here).
impl PartialEq for Statement {
    fn eq(&self, other: &Self) -> bool {
        use Statement as S;
        let same_number = |a: &Number, b: &Number| match (a, b) {
            (Number::Integer(x), Number::Integer(y)) => x == y,
            (Number::Float(x), Number::Float(y)) => x == y,
            _ => false,
        };
        match (self, other) {
            (S::Equal(a, x), S::Equal(b, y)) | (S::NotEqual(a, x), S::NotEqual(b, y)) => {
                a == b && x == y
            }
            (S::GreaterThan(a, x), S::GreaterThan(b, y))
            | (S::GreaterOrEqual(a, x), S::GreaterOrEqual(b, y))
            | (S::LessThan(a, x), S::LessThan(b, y))
            | (S::LessOrEqual(a, x), S::LessOrEqual(b, y)) => a == b && same_number(x, y),
            (S::Like(a, x), S::Like(b, y)) => a == b && x == y,
            (S::Not(x), S::Not(y)) => x == y,
            (S::And(x), S::And(y)) | (S::Or(x), S::Or(y)) => x == y,
            (S::All(a, x), S::All(b, y)) | (S::Any(a, x), S::Any(b, y)) => a == b && x == y,
            _ => false,
        }
    }
}

/// Compact JSON text of the IPLD form.
impl fmt::Display for Statement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", crate::json::to_json(&self.to_value()))
    }
}

/// Reads statements, counting them and tracking depth against the limits.
pub(crate) struct Parser<'l> {
    limits: &'l PolicyLimits,
    count: usize,
    at: Location,
}

impl<'l> Parser<'l> {
    pub(crate) fn new(limits: &'l PolicyLimits) -> Self {
        Parser {
            limits,
            count: 0,
            at: Location::default(),
        }
    }

    /// Parses a list of top-level statements.
    pub(crate) fn policy(&mut self, value: &Value) -> Result<Vec<Statement>, PolicyError> {
        let items = value.as_list().ok_or(PolicyError::NotAList {
            found: a_kind(value),
        })?;
        let mut statements = Vec::with_capacity(items.len().min(self.limits.max_statements));
        for (index, item) in items.iter().enumerate() {
            statements.push(self.nested(LocationStep::Top(index), item)?);
        }
        Ok(statements)
    }

    /// Parses a statement one level below the current one.
    fn nested(&mut self, step: LocationStep, value: &Value) -> Result<Statement, PolicyError> {
        self.at.steps.push(step);
        let result = self.statement(value);
        self.at.steps.pop();
        result
    }

    fn invalid(&self, problem: Problem) -> PolicyError {
        PolicyError::Invalid {
            at: self.at.clone(),
            problem,
        }
    }

    fn statement(&mut self, value: &Value) -> Result<Statement, PolicyError> {
        if self.at.steps.len() > self.limits.max_depth {
            return Err(PolicyError::TooDeep {
                at: self.at.clone(),
                limit: self.limits.max_depth,
            });
        }
        self.count += 1;
        if self.count > self.limits.max_statements {
            return Err(PolicyError::TooManyStatements {
                limit: self.limits.max_statements,
            });
        }
        let items = value.as_list().ok_or_else(|| {
            self.invalid(Problem::NotAList {
                found: a_kind(value),
            })
        })?;
        let (head, args) = items
            .split_first()
            .ok_or_else(|| self.invalid(Problem::Empty))?;
        let op = head.as_str().ok_or_else(|| {
            self.invalid(Problem::OperatorNotString {
                found: a_kind(head),
            })
        })?;
        let (operator, form) =
            shape(op).ok_or_else(|| self.invalid(Problem::UnknownOperator(op.to_owned())))?;
        let arity = Problem::Arity {
            operator,
            form,
            found: items.len(),
        };
        match (operator, args) {
            ("not", [inner]) => {
                let inner = self.nested(LocationStep::Inside { operator }, inner)?;
                Ok(Statement::Not(Box::new(inner)))
            }
            ("and", [list]) => Ok(Statement::And(self.statements(operator, list)?)),
            ("or", [list]) => Ok(Statement::Or(self.statements(operator, list)?)),
            ("==", [sel, literal]) => Ok(Statement::Equal(
                self.selector(operator, sel)?,
                literal.clone(),
            )),
            ("!=", [sel, literal]) => Ok(Statement::NotEqual(
                self.selector(operator, sel)?,
                literal.clone(),
            )),
            (">" | ">=" | "<" | "<=", [sel, number]) => {
                let selector = self.selector(operator, sel)?;
                let number = number.as_number().ok_or_else(|| {
                    self.invalid(Problem::NotANumber {
                        operator,
                        found: a_kind(number),
                    })
                })?;
                Ok(match operator {
                    ">" => Statement::GreaterThan(selector, number),
                    ">=" => Statement::GreaterOrEqual(selector, number),
                    "<" => Statement::LessThan(selector, number),
                    _ => Statement::LessOrEqual(selector, number),
                })
            }
            ("like", [sel, pattern]) => {
                let selector = self.selector(operator, sel)?;
                let text = pattern.as_str().ok_or_else(|| {
                    self.invalid(Problem::PatternNotString {
                        found: a_kind(pattern),
                    })
                })?;
                let pattern = Pattern::new(text).map_err(|e| self.invalid(e.into()))?;
                Ok(Statement::Like(selector, pattern))
            }
            ("all" | "any", [sel, inner]) => {
                let selector = self.selector(operator, sel)?;
                let inner = Box::new(self.nested(LocationStep::Inside { operator }, inner)?);
                Ok(if operator == "all" {
                    Statement::All(selector, inner)
                } else {
                    Statement::Any(selector, inner)
                })
            }
            _ => Err(self.invalid(arity)),
        }
    }

    fn selector(&self, operator: &'static str, value: &Value) -> Result<Selector, PolicyError> {
        let text = value.as_str().ok_or_else(|| {
            self.invalid(Problem::SelectorNotString {
                operator,
                found: a_kind(value),
            })
        })?;
        text.parse()
            .map_err(|e: super::SelectorError| self.invalid(e.into()))
    }

    fn statements(
        &mut self,
        operator: &'static str,
        value: &Value,
    ) -> Result<Vec<Statement>, PolicyError> {
        let items = value.as_list().ok_or_else(|| {
            self.invalid(Problem::StatementsNotAList {
                operator,
                found: a_kind(value),
            })
        })?;
        let mut out = Vec::with_capacity(items.len().min(self.limits.max_statements));
        for (index, item) in items.iter().enumerate() {
            out.push(self.nested(LocationStep::Item { operator, index }, item)?);
        }
        Ok(out)
    }
}

/// The canonical name of an operator and the form it must take.
fn shape(op: &str) -> Option<(&'static str, &'static str)> {
    Some(match op {
        "==" => ("==", "[\"==\", selector, value]"),
        "!=" => ("!=", "[\"!=\", selector, value]"),
        ">" => (">", "[\">\", selector, number]"),
        ">=" => (">=", "[\">=\", selector, number]"),
        "<" => ("<", "[\"<\", selector, number]"),
        "<=" => ("<=", "[\"<=\", selector, number]"),
        "like" => ("like", "[\"like\", selector, pattern]"),
        "not" => ("not", "[\"not\", statement]"),
        "and" => ("and", "[\"and\", [statement, …]]"),
        "or" => ("or", "[\"or\", [statement, …]]"),
        "all" => ("all", "[\"all\", selector, statement]"),
        "any" => ("any", "[\"any\", selector, statement]"),
        _ => return None,
    })
}
