//! Evaluating statements against arguments, within a step budget.
//!
//! Semantics, from the spec: a statement whose selector cannot be resolved is false (it
//! never errors), so `not` and `!=` around it are true; comparisons, `like` and the
//! quantifiers are false on a value of the wrong kind; `and []` and `or []` are true.
//! Running out of budget is not a verdict: it aborts the whole evaluation.

use std::cmp::Ordering;

use super::render::{self, a_kind};
use super::resolve::{Selected, Unresolved, select};
use super::selector::Selector;
use super::statement::Statement;
use crate::value::{Number, Value};

/// How many characters of a value or statement a reason shows.
const SHOWN: usize = 120;

/// Steps left for one evaluation.
#[derive(Debug)]
pub(crate) struct Budget {
    left: usize,
}

/// The budget ran out.
#[derive(Debug)]
pub(crate) struct Exhausted;

impl Budget {
    pub(crate) fn new(limit: usize) -> Self {
        Budget { left: limit }
    }

    pub(crate) fn spend(&mut self, steps: usize) -> Result<(), Exhausted> {
        self.left = self.left.checked_sub(steps).ok_or(Exhausted)?;
        Ok(())
    }
}

/// The truth of a statement; when false, why (only worded when explaining).
#[derive(Debug, PartialEq)]
pub(crate) enum Verdict {
    Holds,
    Fails(String),
}

/// One evaluation run. Reasons cost allocations, so they are only written when `explain`
/// is set: a failing policy is evaluated once quietly, then again to explain.
pub(crate) struct Eval<'b> {
    pub(crate) budget: &'b mut Budget,
    pub(crate) explain: bool,
}

impl Eval<'_> {
    fn fail(&self, reason: impl FnOnce() -> String) -> Verdict {
        Verdict::Fails(if self.explain {
            reason()
        } else {
            String::new()
        })
    }

    /// Evaluates `statement` with `input` as the value `.` selects.
    pub(crate) fn check(
        &mut self,
        statement: &Statement,
        input: &Value,
    ) -> Result<Verdict, Exhausted> {
        self.budget.spend(1)?;
        let found = match statement {
            Statement::Equal(s, _)
            | Statement::NotEqual(s, _)
            | Statement::GreaterThan(s, _)
            | Statement::GreaterOrEqual(s, _)
            | Statement::LessThan(s, _)
            | Statement::LessOrEqual(s, _)
            | Statement::Like(s, _)
            | Statement::All(s, _)
            | Statement::Any(s, _) => match select(s, input, self.budget) {
                Ok(found) => found,
                Err(Unresolved::Exhausted) => return Err(Exhausted),
                Err(Unresolved::Failed(why)) => {
                    return Ok(match statement {
                        Statement::NotEqual(..) => Verdict::Holds,
                        _ => self.fail(|| why),
                    });
                }
            },
            Statement::Not(inner) => {
                return Ok(match self.check(inner, input)? {
                    Verdict::Holds => self.fail(|| format!("{} holds", shown(inner))),
                    Verdict::Fails(_) => Verdict::Holds,
                });
            }
            Statement::And(items) => {
                for item in items {
                    if let Verdict::Fails(why) = self.check(item, input)? {
                        return Ok(self.fail(|| format!("{} does not hold: {why}", shown(item))));
                    }
                }
                return Ok(Verdict::Holds);
            }
            Statement::Or(items) => {
                let mut first = None;
                for item in items {
                    match self.check(item, input)? {
                        Verdict::Holds => return Ok(Verdict::Holds),
                        Verdict::Fails(why) => {
                            first.get_or_insert((item, why));
                        }
                    }
                }
                return Ok(match first {
                    None => Verdict::Holds,
                    Some((item, why)) => self.fail(|| {
                        format!(
                            "none of its {} alternatives holds; the first, {}, does not because {why}",
                            items.len(),
                            shown(item)
                        )
                    }),
                });
            }
        };
        Ok(match statement {
            Statement::Equal(s, expected) => match equal(&found, expected) {
                true => Verdict::Holds,
                false => self.fail(|| format!("{} is {}", s.as_str(), found.render(SHOWN))),
            },
            Statement::NotEqual(s, expected) => match equal(&found, expected) {
                true => self.fail(|| {
                    format!(
                        "{} is {}, which it must not be",
                        s.as_str(),
                        found.render(SHOWN)
                    )
                }),
                false => Verdict::Holds,
            },
            Statement::GreaterThan(s, n) => self.compare(s, &found, *n, Ordering::is_gt),
            Statement::GreaterOrEqual(s, n) => self.compare(s, &found, *n, Ordering::is_ge),
            Statement::LessThan(s, n) => self.compare(s, &found, *n, Ordering::is_lt),
            Statement::LessOrEqual(s, n) => self.compare(s, &found, *n, Ordering::is_le),
            Statement::Like(s, pattern) => match &found {
                Selected::One(v) => match v.as_str() {
                    Some(text) if pattern.matches(text) => Verdict::Holds,
                    Some(text) => self.fail(|| {
                        format!(
                            "{} is {}, which does not match {}",
                            s.as_str(),
                            render::quoted(text, SHOWN),
                            render::quoted(pattern.as_str(), SHOWN)
                        )
                    }),
                    None => self.fail(|| format!("{} is {}, not a string", s.as_str(), a_kind(v))),
                },
                Selected::Many(_) => {
                    self.fail(|| format!("{} is a list, not a string", s.as_str()))
                }
            },
            Statement::All(s, inner) => self.all(s, inner, &found)?,
            Statement::Any(s, inner) => self.any(s, inner, &found)?,
            Statement::Not(_) | Statement::And(_) | Statement::Or(_) => Verdict::Holds,
        })
    }

    fn compare(
        &self,
        s: &Selector,
        found: &Selected<'_>,
        n: Number,
        holds: fn(Ordering) -> bool,
    ) -> Verdict {
        let number = match found {
            Selected::One(v) => v.as_number(),
            Selected::Many(_) => None,
        };
        match number {
            Some(x) if x.compare(n).is_some_and(holds) => Verdict::Holds,
            Some(_) => self.fail(|| format!("{} is {}", s.as_str(), found.render(SHOWN))),
            None => self.fail(|| format!("{} is {}, not a number", s.as_str(), found.a_kind())),
        }
    }

    fn all(
        &mut self,
        s: &Selector,
        inner: &Statement,
        found: &Selected<'_>,
    ) -> Result<Verdict, Exhausted> {
        let Some(members) = members(found) else {
            return Ok(
                self.fail(|| format!("{} is {}, not a list or map", s.as_str(), found.a_kind()))
            );
        };
        for (label, member) in members {
            self.budget.spend(1)?;
            if let Verdict::Fails(why) = self.check(inner, member)? {
                return Ok(self.fail(|| {
                    format!(
                        "{label} of {} does not satisfy {}: {why}",
                        s.as_str(),
                        shown(inner)
                    )
                }));
            }
        }
        Ok(Verdict::Holds)
    }

    fn any(
        &mut self,
        s: &Selector,
        inner: &Statement,
        found: &Selected<'_>,
    ) -> Result<Verdict, Exhausted> {
        let Some(members) = members(found) else {
            return Ok(
                self.fail(|| format!("{} is {}, not a list or map", s.as_str(), found.a_kind()))
            );
        };
        let mut first = None;
        let mut checked = 0usize;
        for (label, member) in members {
            self.budget.spend(1)?;
            checked += 1;
            match self.check(inner, member)? {
                Verdict::Holds => return Ok(Verdict::Holds),
                Verdict::Fails(why) => {
                    first.get_or_insert((label, why));
                }
            }
        }
        Ok(match first {
            None => self.fail(|| {
                format!(
                    "{} is empty, so nothing in it satisfies {}",
                    s.as_str(),
                    shown(inner)
                )
            }),
            Some((label, why)) => self.fail(|| {
                format!(
                    "nothing in {} satisfies {} ({checked} checked; {label}: {why})",
                    s.as_str(),
                    shown(inner)
                )
            }),
        })
    }
}

/// A statement as short JSON-like text.
pub(crate) fn shown(statement: &Statement) -> String {
    render::value(&statement.to_value(), SHOWN)
}

/// How a member of a collection is named in reasons.
enum Label<'a> {
    Element(usize),
    Key(&'a str),
}

impl std::fmt::Display for Label<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Label::Element(i) => write!(f, "element {i}"),
            Label::Key(k) => write!(f, "the value at {}", render::quoted(k, SHOWN)),
        }
    }
}

/// The members a quantifier ranges over: a list's elements or a map's values (or what a
/// `[]` selector collected). `None` for anything else.
fn members<'s>(
    found: &'s Selected<'_>,
) -> Option<Box<dyn Iterator<Item = (Label<'s>, &'s Value)> + 's>> {
    match found {
        Selected::Many(items) => Some(Box::new(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| (Label::Element(i), v.as_ref())),
        )),
        Selected::One(v) => match v.as_ref() {
            Value::List(items) => Some(Box::new(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (Label::Element(i), v)),
            )),
            Value::Map(map) => Some(Box::new(map.iter().map(|(k, v)| (Label::Key(k), v)))),
            _ => None,
        },
    }
}

/// Equality of a selection and a literal.
fn equal(found: &Selected<'_>, expected: &Value) -> bool {
    match (found, expected) {
        (Selected::One(v), _) => values_equal(v, expected),
        (Selected::Many(items), Value::List(wanted)) => {
            items.len() == wanted.len() && items.iter().zip(wanted).all(|(a, b)| values_equal(a, b))
        }
        (Selected::Many(_), _) => false,
    }
}

/// Deep equality in which integers and floats are equal when their values are
/// (`1 == 1.0`), at any depth.
pub(crate) fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| values_equal(p, q))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|((kx, vx), (ky, vy))| kx == ky && values_equal(vx, vy))
        }
        _ => match (a.as_number(), b.as_number()) {
            (Some(x), Some(y)) => x.compare(y) == Some(Ordering::Equal),
            _ => a == b,
        },
    }
}
