//! Selectors: the jq-like paths (`.a.b[0]`, `.["x.y"]?`, `.list[]`) that pick a value out
//! of invocation arguments. This file holds their parsed form and canonical printer; the
//! grammar and parser are in `selector_grammar.rs`, resolution in `resolve.rs`.

use std::fmt;
use std::str::FromStr;

use super::selector_grammar::parse;
pub use super::selector_grammar::{SelectorError, SelectorProblem};

/// A parsed selector. It remembers the text it was parsed from, so that a policy turns
/// back into exactly the value it came from; [`fmt::Display`] prints the canonical form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    source: String,
    segments: Vec<Segment>,
}

/// One step of a selector, with its `?` flag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    pub access: Access,
    /// With `?`: where this step cannot be taken, it yields `null` instead of failing.
    pub optional: bool,
}

/// What a selector step does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access {
    /// `.name` or `["name"]`: a map entry (a missing key yields `null`).
    Field(String),
    /// `[i]`: a list element or byte; negative counts from the end.
    Index(i64),
    /// `[start:end]`: a sub-list or sub-byte-string; bounds are clamped.
    Slice {
        start: Option<i64>,
        end: Option<i64>,
    },
    /// `[]`: every element of a list, or every value of a map.
    Iterate,
}

impl Selector {
    /// The identity selector `.`.
    pub fn identity() -> Selector {
        Selector {
            source: ".".to_owned(),
            segments: Vec::new(),
        }
    }

    /// The text this selector was parsed from. It equals the canonical form printed by
    /// `Display` only when the text was already canonical (`.a??` prints as `.a?`).
    pub fn as_str(&self) -> &str {
        &self.source
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Whether this is `.`, the whole value.
    pub fn is_identity(&self) -> bool {
        self.segments.is_empty()
    }

    /// Whether the selector contains `[]`, so that it selects a list of values.
    pub fn iterates(&self) -> bool {
        self.segments.iter().any(|s| s.access == Access::Iterate)
    }

    /// Builds a selector from segments; its source text is the canonical form.
    pub fn from_segments(segments: Vec<Segment>) -> Selector {
        let source = canonical(&segments);
        Selector { source, segments }
    }
}

impl FromStr for Selector {
    type Err = SelectorError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let segments = parse(text).map_err(|problem| SelectorError {
            text: text.to_owned(),
            problem,
        })?;
        Ok(Selector {
            source: text.to_owned(),
            segments,
        })
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&canonical(&self.segments))
    }
}

/// Whether `key` can be written in dotted form (`.key`).
pub(crate) fn is_identifier(key: &str) -> bool {
    let mut bytes = key.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The canonical text of a list of segments: dotted fields where possible, no `.` before
/// brackets except at the start, and one `?` per optional segment.
pub(crate) fn canonical(segments: &[Segment]) -> String {
    let mut out = String::new();
    for (i, segment) in segments.iter().enumerate() {
        match &segment.access {
            Access::Field(key) if is_identifier(key) => {
                out.push('.');
                out.push_str(key);
            }
            access => {
                if i == 0 {
                    out.push('.');
                }
                out.push('[');
                match access {
                    Access::Field(key) => {
                        out.push_str(&serde_json::Value::from(key.as_str()).to_string())
                    }
                    Access::Index(n) => out.push_str(&n.to_string()),
                    Access::Slice { start, end } => {
                        if let Some(s) = start {
                            out.push_str(&s.to_string());
                        }
                        out.push(':');
                        if let Some(e) = end {
                            out.push_str(&e.to_string());
                        }
                    }
                    Access::Iterate => {}
                }
                out.push(']');
            }
        }
        if segment.optional {
            out.push('?');
        }
    }
    if out.is_empty() {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(text: &str) -> Selector {
        match text.parse() {
            Ok(s) => s,
            Err(e) => panic!("{text:?} should parse: {e}"),
        }
    }

    #[test]
    fn display_is_canonical_and_reparses() {
        for (text, canonical) in [
            (".", "."),
            (".a.b", ".a.b"),
            (".[\"a\"]", ".a"),
            (".a.[0]", ".a[0]"),
            (".a??", ".a?"),
            (".[\"a.b\"]", ".[\"a.b\"]"),
            (".x[\"a b\"]?[-1][]", ".x[\"a b\"]?[-1][]"),
            (".[0:2]", ".[0:2]"),
        ] {
            let parsed = sel(text);
            assert_eq!(parsed.to_string(), canonical);
            assert_eq!(parsed.as_str(), text);
            assert_eq!(sel(canonical).segments(), parsed.segments());
            assert_eq!(
                Selector::from_segments(parsed.segments().to_vec()).as_str(),
                canonical
            );
        }
    }
}
