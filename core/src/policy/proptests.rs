//! Property tests: parsing arbitrary values never panics, and whatever parses turns back
//! into the same value; selectors and evaluation never panic either.

use proptest::prelude::*;

use super::{Access, Policy, PolicyLimits, Segment, Selector};
use crate::value::{Map, Value};

/// Strings that make random values likely to look like policies.
const WORDS: &[&str] = &[
    "==",
    "!=",
    ">",
    ">=",
    "<",
    "<=",
    "like",
    "not",
    "and",
    "or",
    "all",
    "any",
    ".",
    ".a",
    ".b?",
    ".a[0]",
    ".[-1]",
    ".[]",
    ".a[].b",
    ".[\"x.y\"]",
    ".a[1:]",
    "*",
    "a*b",
    "\\*",
    "\\q",
    "",
    ".a[",
    "..",
    "a",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3i128..4).prop_map(Value::Integer),
        any::<i64>().prop_map(|i| Value::Integer(i.into())),
        (-4.0f64..4.0).prop_map(Value::Float),
        proptest::sample::select(WORDS).prop_map(Value::from),
        "[.a-z\\[\\]\"?*\\\\0-9:-]{0,8}".prop_map(Value::from),
        proptest::collection::vec(any::<u8>(), 0..4).prop_map(Value::Bytes),
    ]
}

/// Arbitrary values, at most 5 levels deep and a few elements wide.
fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 64, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::List),
            proptest::collection::vec(("[a-c]", inner), 0..3)
                .prop_map(|entries| Value::Map(entries.into_iter().collect::<Map>())),
        ]
    })
}

/// Values shaped like statements, so that many of them parse.
fn statement() -> impl Strategy<Value = Value> {
    let selector = proptest::sample::select(
        &[
            ".", ".a", ".b?", ".a[0]", ".[-1]", ".[]", ".a[].b", ".a[1:]",
        ][..],
    );
    let leaf = prop_oneof![
        (
            proptest::sample::select(&["==", "!="][..]),
            selector.clone(),
            value()
        )
            .prop_map(|(op, sel, v)| Value::List(vec![op.into(), sel.into(), v])),
        (
            proptest::sample::select(&[">", ">=", "<", "<="][..]),
            selector.clone(),
            -3i64..4
        )
            .prop_map(|(op, sel, n)| Value::List(vec![op.into(), sel.into(), n.into()])),
        (
            selector.clone(),
            proptest::sample::select(&["*", "a*", "\\*b", ""][..])
        )
            .prop_map(|(sel, p)| Value::List(vec!["like".into(), sel.into(), p.into()])),
    ];
    leaf.prop_recursive(4, 32, 3, move |inner| {
        prop_oneof![
            inner
                .clone()
                .prop_map(|s| Value::List(vec!["not".into(), s])),
            (
                proptest::sample::select(&["and", "or"][..]),
                proptest::collection::vec(inner.clone(), 0..3)
            )
                .prop_map(|(op, items)| Value::List(vec![op.into(), Value::List(items)])),
            (
                proptest::sample::select(&["all", "any"][..]),
                selector.clone(),
                inner
            )
                .prop_map(|(op, sel, s)| Value::List(vec![op.into(), sel.into(), s])),
        ]
    })
}

fn segment() -> impl Strategy<Value = Segment> {
    let access = prop_oneof![
        "[a-z_][a-z0-9_]{0,3}".prop_map(Access::Field),
        any::<String>().prop_map(Access::Field),
        any::<i64>().prop_map(Access::Index),
        (
            proptest::option::of(-5i64..5),
            proptest::option::of(-5i64..5)
        )
            .prop_filter("a slice needs a bound", |(s, e)| s.is_some() || e.is_some())
            .prop_map(|(start, end)| Access::Slice { start, end }),
        Just(Access::Iterate),
    ];
    (access, any::<bool>()).prop_map(|(access, optional)| Segment { access, optional })
}

fn check_round_trip(input: &Value) -> Result<(), TestCaseError> {
    let limits = PolicyLimits::default();
    if let Ok(policy) = Policy::parse(input, &limits) {
        let back = policy.to_value();
        prop_assert_eq!(&back, input);
        prop_assert_eq!(Policy::parse(&back, &limits), Ok(policy));
    }
    Ok(())
}

proptest! {
    #[test]
    fn arbitrary_values_never_panic_and_round_trip(input in value()) {
        check_round_trip(&input)?;
    }

    #[test]
    fn statement_shaped_values_round_trip(items in proptest::collection::vec(statement(), 0..4)) {
        let input = Value::List(items);
        check_round_trip(&input)?;
    }

    #[test]
    fn evaluation_never_panics(items in proptest::collection::vec(statement(), 0..4), args in value()) {
        let limits = PolicyLimits { max_steps: 2_000, ..PolicyLimits::default() };
        if let Ok(policy) = Policy::parse(&Value::List(items), &limits) {
            let first = policy.matches(&args, &limits);
            // Deterministic: the same check gives the same answer.
            prop_assert_eq!(policy.matches(&args, &limits), first);
        }
    }

    #[test]
    fn selector_text_never_panics(text in any::<String>(), near in "[.a-z\\[\\]\"?0-9:-]{0,12}") {
        for t in [text, near] {
            if let Ok(selector) = t.parse::<Selector>() {
                prop_assert_eq!(selector.as_str(), t.as_str());
                let canonical = selector.to_string();
                let again = canonical.parse::<Selector>();
                prop_assert_eq!(again.as_ref().map(Selector::segments), Ok(selector.segments()));
            }
        }
    }

    #[test]
    fn canonical_selectors_reparse(segments in proptest::collection::vec(segment(), 0..5)) {
        let selector = Selector::from_segments(segments.clone());
        let again = selector.as_str().parse::<Selector>();
        prop_assert_eq!(again.as_ref().map(Selector::segments), Ok(&segments[..]));
    }
}
