//! The text form of selectors: parsing it strictly into segments, with errors that say
//! what is wrong and where.
//!
//! Every selector starts with `.`; `.` alone is the identity:
//!
//! ```text
//! selector = "." / "." part *( "." part / bracket / "?" )
//! part     = field / bracket
//! field    = (ALPHA / "_") *(ALPHA / DIGIT / "_")     ; .foo, .bar0_
//! bracket  = "[" ( "]"                               ; [] every element or map value
//!                / json-string "]"                   ; ["any key"], with JSON escapes
//!                / integer "]"                       ; [0], [-1]
//!                / [integer] ":" [integer] "]" )     ; slices: [1:3], [2:], [:-1]
//! integer  = "0" / ["-"] %x31-39 *DIGIT
//! ```
//!
//! A `?` after a segment makes it optional; repeated `?` count once. No whitespace is
//! allowed anywhere, and `..` is refused.

use super::render;
use super::selector::{Access, Segment};

/// Why a selector's text is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("selector {}: {problem}", render::quoted(.text, 80))]
pub struct SelectorError {
    pub text: String,
    pub problem: SelectorProblem,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorProblem {
    #[error("a selector cannot be empty (use \".\" for the whole value)")]
    Empty,
    #[error("a selector must start with \".\"")]
    NoLeadingDot,
    #[error("it must not end with \".\"")]
    TrailingDot,
    #[error("\"..\" is not allowed")]
    DoubleDot,
    #[error("unexpected {found:?} at byte {at} (keys that are not identifiers need .[\"…\"])")]
    Unexpected { found: char, at: usize },
    #[error("\"?\" at byte {at} does not follow a segment")]
    MisplacedOptional { at: usize },
    #[error("unterminated index")]
    UnterminatedIndex,
    #[error("unterminated string")]
    UnterminatedString,
    #[error("expected \"]\" after the quoted key at byte {at}")]
    ExpectedCloseBracket { at: usize },
    #[error("invalid quoted key: {0}")]
    BadString(String),
    #[error("invalid index {0:?} (an integer without leading zeros was expected)")]
    BadIndex(String),
    #[error("a slice needs at least one bound")]
    EmptySlice,
}

/// Where the parser stands: just after a `.`, or just after a complete segment.
#[derive(PartialEq)]
enum State {
    AfterDot,
    AfterSegment,
}

pub(crate) fn parse(text: &str) -> Result<Vec<Segment>, SelectorProblem> {
    let bytes = text.as_bytes();
    match bytes.first() {
        None => return Err(SelectorProblem::Empty),
        Some(b'.') => {}
        Some(_) => return Err(SelectorProblem::NoLeadingDot),
    }
    let mut segments: Vec<Segment> = Vec::new();
    let mut state = State::AfterDot;
    let mut pos = 1;
    while let Some(&b) = bytes.get(pos) {
        match (b, &state) {
            (b'.', State::AfterDot) => return Err(SelectorProblem::DoubleDot),
            (b'.', State::AfterSegment) => {
                state = State::AfterDot;
                pos += 1;
            }
            (b'?', State::AfterSegment) => {
                if let Some(last) = segments.last_mut() {
                    last.optional = true;
                }
                pos += 1;
            }
            (b'?', State::AfterDot) => return Err(SelectorProblem::MisplacedOptional { at: pos }),
            (b'[', _) => {
                let (access, next) = bracket(text, pos + 1)?;
                segments.push(Segment {
                    access,
                    optional: false,
                });
                state = State::AfterSegment;
                pos = next;
            }
            (b, State::AfterDot) if b.is_ascii_alphabetic() || b == b'_' => {
                let end = bytes
                    .iter()
                    .skip(pos)
                    .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
                    .map_or(bytes.len(), |n| pos + n);
                let key = text.get(pos..end).unwrap_or_default();
                segments.push(Segment {
                    access: Access::Field(key.to_owned()),
                    optional: false,
                });
                state = State::AfterSegment;
                pos = end;
            }
            _ => {
                let found = text
                    .get(pos..)
                    .and_then(|t| t.chars().next())
                    .unwrap_or('\u{FFFD}');
                return Err(SelectorProblem::Unexpected { found, at: pos });
            }
        }
    }
    if state == State::AfterDot && !segments.is_empty() {
        return Err(SelectorProblem::TrailingDot);
    }
    Ok(segments)
}

/// Parses the inside of `[...]`, starting just after the `[`; returns the access and the
/// position just after the `]`.
fn bracket(text: &str, start: usize) -> Result<(Access, usize), SelectorProblem> {
    let bytes = text.as_bytes();
    match bytes.get(start) {
        None => Err(SelectorProblem::UnterminatedIndex),
        Some(b']') => Ok((Access::Iterate, start + 1)),
        Some(b'"') => {
            let mut i = start + 1;
            let close = loop {
                match bytes.get(i) {
                    None => return Err(SelectorProblem::UnterminatedString),
                    Some(b'\\') => i += 2,
                    Some(b'"') => break i,
                    Some(_) => i += 1,
                }
            };
            let literal = text
                .get(start..=close)
                .ok_or(SelectorProblem::UnterminatedString)?;
            let key: String = serde_json::from_str(literal)
                .map_err(|e| SelectorProblem::BadString(e.to_string()))?;
            match bytes.get(close + 1) {
                Some(b']') => Ok((Access::Field(key), close + 2)),
                _ => Err(SelectorProblem::ExpectedCloseBracket { at: close + 1 }),
            }
        }
        Some(_) => {
            let len = bytes
                .iter()
                .skip(start)
                .position(|&b| b == b']')
                .ok_or(SelectorProblem::UnterminatedIndex)?;
            let inner = text.get(start..start + len).unwrap_or_default();
            let access = match inner.split_once(':') {
                None => Access::Index(integer(inner)?),
                Some(("", "")) => return Err(SelectorProblem::EmptySlice),
                Some((a, b)) => Access::Slice {
                    start: bound(a)?,
                    end: bound(b)?,
                },
            };
            Ok((access, start + len + 1))
        }
    }
}

fn bound(text: &str) -> Result<Option<i64>, SelectorProblem> {
    if text.is_empty() {
        Ok(None)
    } else {
        integer(text).map(Some)
    }
}

/// An integer as written in a selector: optional `-`, digits, no leading zeros, no `-0`.
fn integer(text: &str) -> Result<i64, SelectorProblem> {
    let bad = || SelectorProblem::BadIndex(text.to_owned());
    let digits = text.strip_prefix('-').unwrap_or(text);
    let well_formed = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
        && text != "-0";
    if !well_formed {
        return Err(bad());
    }
    text.parse().map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::super::selector::Selector;
    use super::*;

    fn sel(text: &str) -> Selector {
        match text.parse() {
            Ok(s) => s,
            Err(e) => panic!("{text:?} should parse: {e}"),
        }
    }

    fn problem(text: &str) -> SelectorProblem {
        match text.parse::<Selector>() {
            Ok(s) => panic!("{text:?} should not parse, got {s:?}"),
            Err(e) => e.problem,
        }
    }

    fn field(k: &str, optional: bool) -> Segment {
        Segment {
            access: Access::Field(k.to_owned()),
            optional,
        }
    }

    fn plain(access: Access) -> Segment {
        Segment {
            access,
            optional: false,
        }
    }

    #[test]
    fn parses_every_segment_kind() {
        assert!(sel(".").is_identity());
        assert_eq!(
            sel(".a.b_0").segments(),
            [field("a", false), field("b_0", false)]
        );
        assert_eq!(sel(".[\"a.b\"]").segments(), [field("a.b", false)]);
        assert_eq!(sel(".a?").segments(), [field("a", true)]);
        assert_eq!(sel(".a???").segments(), [field("a", true)]);
        assert_eq!(sel(".[-1]").segments(), [plain(Access::Index(-1))]);
        assert_eq!(
            sel(".a[]").segments(),
            [field("a", false), plain(Access::Iterate)]
        );
        assert_eq!(
            sel(".a[1:-2][2:][:3]").segments()[1..],
            [
                plain(Access::Slice {
                    start: Some(1),
                    end: Some(-2)
                }),
                plain(Access::Slice {
                    start: Some(2),
                    end: None
                }),
                plain(Access::Slice {
                    start: None,
                    end: Some(3)
                }),
            ]
        );
        assert_eq!(
            sel(".a.[0]").segments(),
            [field("a", false), plain(Access::Index(0))]
        );
        assert!(sel(".a[]").iterates());
        assert!(!sel(".a[0]").iterates());
    }

    #[test]
    fn quoted_keys_take_json_escapes() {
        assert_eq!(sel(r#".["a\"]b"]"#).segments(), [field("a\"]b", false)]);
        assert_eq!(sel(r#".["\u00e9\\"]"#).segments(), [field("é\\", false)]);
        assert_eq!(sel(r#".[""]"#).segments(), [field("", false)]);
        assert_eq!(sel(r#".["1"]?"#).segments(), [field("1", true)]);
    }

    #[test]
    fn rejects_malformed_text() {
        assert_eq!(problem(""), SelectorProblem::Empty);
        assert_eq!(problem("a"), SelectorProblem::NoLeadingDot);
        assert_eq!(problem("[0]"), SelectorProblem::NoLeadingDot);
        assert_eq!(problem(".a."), SelectorProblem::TrailingDot);
        assert_eq!(problem(".."), SelectorProblem::DoubleDot);
        assert_eq!(problem(".a..b"), SelectorProblem::DoubleDot);
        assert_eq!(problem(".?"), SelectorProblem::MisplacedOptional { at: 1 });
        assert_eq!(problem(".a[").to_string(), "unterminated index");
        assert_eq!(problem(".a[0"), SelectorProblem::UnterminatedIndex);
        assert_eq!(problem(".[\"a]"), SelectorProblem::UnterminatedString);
        assert_eq!(
            problem(".[\"a\"x]"),
            SelectorProblem::ExpectedCloseBracket { at: 5 }
        );
        assert!(matches!(
            problem(".[\"\\q\"]"),
            SelectorProblem::BadString(_)
        ));
        assert!(matches!(problem(".[01]"), SelectorProblem::BadIndex(_)));
        assert!(matches!(problem(".[-0]"), SelectorProblem::BadIndex(_)));
        assert!(matches!(problem(".[ 1]"), SelectorProblem::BadIndex(_)));
        assert!(matches!(problem(".[1.5]"), SelectorProblem::BadIndex(_)));
        assert!(matches!(
            problem(".[99999999999999999999]"),
            SelectorProblem::BadIndex(_)
        ));
        assert_eq!(problem(".[:]"), SelectorProblem::EmptySlice);
        assert_eq!(
            problem(".a-b"),
            SelectorProblem::Unexpected { found: '-', at: 2 }
        );
        assert_eq!(
            problem(".1a"),
            SelectorProblem::Unexpected { found: '1', at: 1 }
        );
        assert_eq!(
            problem(".é"),
            SelectorProblem::Unexpected { found: 'é', at: 1 }
        );
        assert_eq!(
            problem(". a"),
            SelectorProblem::Unexpected { found: ' ', at: 1 }
        );
    }

    #[test]
    fn error_names_the_selector() {
        let err = ".a[".parse::<Selector>().err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("selector \".a[\": unterminated index"));
    }
}
