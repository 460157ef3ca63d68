//! Resolving a selector against arguments, following the spec's rules: a missing map key is
//! `null`; a wrong kind or an out-of-range index fails unless the segment is optional (`?`),
//! which yields `null`; failure stops resolution even if later segments are optional.
//!
//! Without `[]` a selector picks one value. Each `[]` fans out over a list's elements or a
//! map's values (the rest of the path applies to each), and the whole selection is then the
//! list of everything picked, flattened as jq's `[.a[].b]` would be. A failing member makes
//! the whole selection fail (unless that segment is optional: then it contributes `null`),
//! so `all` over `.a[].b` cannot pass by skipping members. An optional `[]` on a value that
//! is not a collection yields `null`, like any other optional segment.

use std::borrow::Cow;

use super::eval::{Budget, Exhausted};
use super::render::{self, a_kind};
use super::selector::{Access, Selector, canonical};
use crate::value::Value;

/// What a selector picked. Values are borrowed from the arguments where possible.
#[derive(Debug)]
pub(crate) enum Selected<'a> {
    One(Cow<'a, Value>),
    /// The selector iterates (`[]`): the values it picked, as one list.
    Many(Vec<Cow<'a, Value>>),
}

/// Why resolution stopped.
#[derive(Debug)]
pub(crate) enum Unresolved {
    /// The path does not exist in these arguments; the text says where and why.
    Failed(String),
    Exhausted,
}

impl From<Exhausted> for Unresolved {
    fn from(_: Exhausted) -> Self {
        Unresolved::Exhausted
    }
}

/// A step's result on one value.
enum Found<'v> {
    Ref(&'v Value),
    Made(Value),
    Refs(Vec<&'v Value>),
}

/// Resolves `selector` against `input`, spending a step per segment applied and per
/// element produced by `[]` or a slice.
pub(crate) fn select<'a>(
    selector: &Selector,
    input: &'a Value,
    budget: &mut Budget,
) -> Result<Selected<'a>, Unresolved> {
    let segments = selector.segments();
    let mut stream: Vec<Cow<'a, Value>> = vec![Cow::Borrowed(input)];
    let mut many = false;
    for (i, segment) in segments.iter().enumerate() {
        let mut next = Vec::with_capacity(stream.len());
        // Whether a `[]` fanned out; an optional `[]` that could not leaves a lone `null`.
        let mut fanned = false;
        for current in stream {
            budget.spend(1)?;
            let found = match &current {
                Cow::Borrowed(v) => lookup(v, &segment.access).map(|f| borrowed(f, &mut next)),
                Cow::Owned(v) => lookup(v, &segment.access).map(|f| owned(f, &mut next)),
            };
            match found {
                Ok(produced) => {
                    budget.spend(produced)?;
                    fanned |= segment.access == Access::Iterate;
                }
                Err(_) if segment.optional => next.push(Cow::Owned(Value::Null)),
                Err(why) => {
                    let parent = canonical(segments.get(..i).unwrap_or_default());
                    let whose = if many {
                        format!("a value selected by {parent}")
                    } else {
                        parent
                    };
                    return Err(Unresolved::Failed(format!(
                        "{} cannot be selected: {whose} {why}",
                        canonical(segments.get(..=i).unwrap_or_default()),
                    )));
                }
            }
        }
        stream = next;
        many |= fanned;
    }
    if many {
        return Ok(Selected::Many(stream));
    }
    Ok(Selected::One(
        stream.pop().unwrap_or(Cow::Owned(Value::Null)),
    ))
}

/// How many list elements a made value copied (a slice), for the budget.
fn copied(value: &Value) -> usize {
    value.as_list().map_or(0, <[Value]>::len)
}

/// Pushes what was found in a borrowed value; returns how many extra values were produced
/// or copied.
fn borrowed<'a>(found: Found<'a>, out: &mut Vec<Cow<'a, Value>>) -> usize {
    match found {
        Found::Ref(v) => out.push(Cow::Borrowed(v)),
        Found::Made(v) => {
            let n = copied(&v);
            out.push(Cow::Owned(v));
            return n;
        }
        Found::Refs(vs) => {
            let n = vs.len();
            out.extend(vs.into_iter().map(Cow::Borrowed));
            return n;
        }
    }
    0
}

/// Pushes what was found in an owned value (copying it out).
fn owned<'a>(found: Found<'_>, out: &mut Vec<Cow<'a, Value>>) -> usize {
    match found {
        Found::Ref(v) => out.push(Cow::Owned(v.clone())),
        Found::Made(v) => {
            let n = copied(&v);
            out.push(Cow::Owned(v));
            return n;
        }
        Found::Refs(vs) => {
            let n = vs.len();
            out.extend(vs.into_iter().map(|v| Cow::Owned(v.clone())));
            return n;
        }
    }
    0
}

/// Takes one step into `value`; on failure says why, as the end of a sentence about it.
fn lookup<'v>(value: &'v Value, access: &Access) -> Result<Found<'v>, String> {
    let not = |what: &str| format!("is {}, not {what}", a_kind(value));
    match (access, value) {
        (Access::Field(key), Value::Map(map)) => {
            Ok(map.get(key).map_or(Found::Made(Value::Null), Found::Ref))
        }
        (Access::Field(_), _) => Err(not("a map")),
        (Access::Index(i), Value::List(list)) => position(*i, list.len())
            .and_then(|p| list.get(p))
            .map(Found::Ref)
            .ok_or_else(|| format!("has no index {i} (it is a list of {})", list.len())),
        (Access::Index(i), Value::Bytes(bytes)) => position(*i, bytes.len())
            .and_then(|p| bytes.get(p))
            .map(|b| Found::Made(Value::Integer(i128::from(*b))))
            .ok_or_else(|| format!("has no index {i} (it is {} bytes long)", bytes.len())),
        (Access::Index(_), _) => Err(not("a list or bytes")),
        (Access::Slice { start, end }, Value::List(list)) => {
            let part = list
                .get(range(*start, *end, list.len()))
                .unwrap_or_default();
            Ok(Found::Made(Value::List(part.to_vec())))
        }
        (Access::Slice { start, end }, Value::Bytes(bytes)) => {
            let part = bytes
                .get(range(*start, *end, bytes.len()))
                .unwrap_or_default();
            Ok(Found::Made(Value::Bytes(part.to_vec())))
        }
        (Access::Slice { .. }, _) => Err(not("a list or bytes")),
        (Access::Iterate, Value::List(list)) => Ok(Found::Refs(list.iter().collect())),
        (Access::Iterate, Value::Map(map)) => Ok(Found::Refs(map.values().collect())),
        (Access::Iterate, _) => Err(not("a list or map")),
    }
}

/// The position an index names in a sequence of `len`; negative counts from the end.
fn position(index: i64, len: usize) -> Option<usize> {
    let len = i128::try_from(len).ok()?;
    let index = i128::from(index);
    let p = if index < 0 { len + index } else { index };
    if (0..len).contains(&p) {
        usize::try_from(p).ok()
    } else {
        None
    }
}

/// The range a slice names, with negative bounds counted from the end and everything
/// clamped to the sequence (so a slice never fails on a list, as in jq).
fn range(start: Option<i64>, end: Option<i64>, len: usize) -> std::ops::Range<usize> {
    let clamp = |bound: Option<i64>, default: usize| -> usize {
        let Some(b) = bound else { return default };
        let len_i = i128::try_from(len).unwrap_or(i128::MAX);
        let b = i128::from(b);
        let p = if b < 0 { len_i + b } else { b };
        usize::try_from(p.clamp(0, len_i)).unwrap_or(len)
    };
    let from = clamp(start, 0);
    let to = clamp(end, len);
    from..to.max(from)
}

impl Selected<'_> {
    /// The kind of what was selected, with its article.
    pub(crate) fn a_kind(&self) -> &'static str {
        match self {
            Selected::One(v) => a_kind(v),
            Selected::Many(_) => "a list",
        }
    }

    /// JSON-like text of what was selected, cut to about `max` characters.
    pub(crate) fn render(&self, max: usize) -> String {
        match self {
            Selected::One(v) => render::value(v, max),
            Selected::Many(items) => {
                // Every item takes at least one character, so `max + 1` items are enough.
                let shown = Value::List(
                    items
                        .iter()
                        .take(max + 1)
                        .map(|v| v.as_ref().clone())
                        .collect(),
                );
                render::value(&shown, max)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> Value {
        let text = r#"{"a": [{"b": 1}, {"b": 2}, {"z": [7, 8, 9]}], "m": {"x": 1, "y": "two"},
                      "s": "str", "n": null, "k": {"/": {"bytes": "1qnBjPjE"}}}"#;
        match crate::json::parse(text) {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        }
    }

    /// Resolves `selector` and renders the result, or returns the failure text.
    fn run(selector: &str) -> Result<String, String> {
        let selector: Selector = selector.parse().map_err(|e| format!("{e}"))?;
        let input = args();
        let mut budget = Budget::new(1000);
        match select(&selector, &input, &mut budget) {
            Ok(found) => Ok(found.render(200)),
            Err(Unresolved::Failed(why)) => Err(why),
            Err(Unresolved::Exhausted) => Err("exhausted".to_owned()),
        }
    }

    #[test]
    fn fields_and_indexes() {
        assert_eq!(run(".s"), Ok("\"str\"".into()));
        assert_eq!(run(".a[1].b"), Ok("2".into()));
        assert_eq!(run(".a[-1].z[-3]"), Ok("7".into()));
        assert_eq!(run(".[\"m\"].y"), Ok("\"two\"".into()));
        assert_eq!(run(".k[3]"), Ok("140".into()));
        assert_eq!(run(".k[-6]"), Ok("214".into()));
    }

    #[test]
    fn missing_keys_are_null_but_nested_access_fails() {
        assert_eq!(run(".nope"), Ok("null".into()));
        assert_eq!(run(".a[2].b"), Ok("null".into()));
        assert_eq!(
            run(".nope.deeper"),
            Err(".nope.deeper cannot be selected: .nope is null, not a map".into())
        );
        assert_eq!(run(".nope?.deeper?"), Ok("null".into()));
        assert_eq!(run(".nope.deeper?"), Ok("null".into()));
    }

    #[test]
    fn out_of_range_and_wrong_kinds_fail_unless_optional() {
        assert_eq!(
            run(".a[3]"),
            Err(".a[3] cannot be selected: .a has no index 3 (it is a list of 3)".into())
        );
        assert_eq!(run(".a[-4]").map_err(|_| ()), Err(()));
        assert_eq!(run(".a[3]?"), Ok("null".into()));
        assert_eq!(
            run(".s.x"),
            Err(".s.x cannot be selected: .s is a string, not a map".into())
        );
        assert_eq!(run(".s[0]").map_err(|_| ()), Err(()));
        assert_eq!(run(".s[]?"), Ok("null".into()));
        // Failure stops resolution even when a later segment is optional.
        assert!(run(".a[9].b?").is_err());
    }

    #[test]
    fn iteration_collects_a_list() {
        assert_eq!(run(".a[].b?"), Ok("[1, 2, null]".into()));
        assert_eq!(run(".m[]"), Ok("[1, \"two\"]".into()));
        assert_eq!(run(".a[2].z[]"), Ok("[7, 8, 9]".into()));
        assert_eq!(run(".a[][]?"), Ok("[1, 2, [7, 8, 9]]".into()));
        assert!(run(".a[].z").is_ok());
        assert_eq!(
            run(".a[].b.c"),
            Err(
                ".a[].b.c cannot be selected: a value selected by .a[].b is an integer, not a map"
                    .into()
            )
        );
        assert_eq!(
            run(".n[]"),
            Err(".n[] cannot be selected: .n is null, not a list or map".into())
        );
    }

    #[test]
    fn slices_clamp() {
        assert_eq!(run(".a[2].z[1:]"), Ok("[8, 9]".into()));
        assert_eq!(run(".a[2].z[:-1]"), Ok("[7, 8]".into()));
        assert_eq!(run(".a[2].z[-2:99]"), Ok("[8, 9]".into()));
        assert_eq!(run(".a[2].z[2:1]"), Ok("[]".into()));
        assert_eq!(run(".a[1:][0].b"), Ok("2".into()));
        assert_eq!(run(".k[0:2]"), Ok("{\"/\":{\"bytes\":\"1qk\"}}".into()));
    }

    #[test]
    fn identity_and_budget() {
        assert!(run(".").is_ok_and(|s| s.starts_with('{')));
        let input = Value::List((0..100i64).map(Value::from).collect());
        let selector: Result<Selector, _> = ".[]".parse();
        let Ok(selector) = selector else {
            panic!("selector")
        };
        let mut budget = Budget::new(50);
        assert!(matches!(
            select(&selector, &input, &mut budget),
            Err(Unresolved::Exhausted)
        ));
    }
}
