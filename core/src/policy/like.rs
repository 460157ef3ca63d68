//! Glob patterns for the `like` operator: `*` matches any run of characters (including
//! none), `\*` is a literal star and `\\` a literal backslash. Nothing else is special.

use std::fmt;
use std::str::FromStr;

use super::render;

/// A parsed `like` pattern. It keeps its source text so the policy prints back unchanged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    source: String,
    pieces: Vec<Piece>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Literal(String),
    /// One or more `*` in a row (they mean the same as one).
    Wildcard,
}

/// Why a pattern is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("pattern {}: \"\\{found}\" is not an escape (only \\* and \\\\ are)", render::quoted(.pattern, 80))]
    BadEscape { pattern: String, found: char },
    #[error("pattern {}: it ends with a lone \"\\\"", render::quoted(.pattern, 80))]
    TrailingBackslash { pattern: String },
}

impl Pattern {
    /// Parses a pattern.
    pub fn new(source: &str) -> Result<Pattern, PatternError> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = source.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(e @ ('*' | '\\')) => literal.push(e),
                    Some(found) => {
                        return Err(PatternError::BadEscape {
                            pattern: source.to_owned(),
                            found,
                        });
                    }
                    None => {
                        return Err(PatternError::TrailingBackslash {
                            pattern: source.to_owned(),
                        });
                    }
                },
                '*' => {
                    if !literal.is_empty() {
                        pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                    }
                    if pieces.last() != Some(&Piece::Wildcard) {
                        pieces.push(Piece::Wildcard);
                    }
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        Ok(Pattern {
            source: source.to_owned(),
            pieces,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether `text` matches the whole pattern. Runs in time linear in the text for each
    /// literal piece (leftmost matching is enough when the only wildcard is `*`).
    pub fn matches(&self, text: &str) -> bool {
        let starts_wild = self.pieces.first() == Some(&Piece::Wildcard);
        let ends_wild = self.pieces.last() == Some(&Piece::Wildcard);
        let literals: Vec<&str> = self
            .pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Literal(s) => Some(s.as_str()),
                Piece::Wildcard => None,
            })
            .collect();
        if !self.pieces.contains(&Piece::Wildcard) {
            return literals.first().copied().unwrap_or("") == text;
        }
        let mut rest = text;
        let mut middle = literals.as_slice();
        if !starts_wild {
            let Some((first, tail)) = middle.split_first() else {
                return false;
            };
            let Some(r) = rest.strip_prefix(first) else {
                return false;
            };
            rest = r;
            middle = tail;
        }
        if !ends_wild {
            let Some((last, init)) = middle.split_last() else {
                return false;
            };
            let Some(r) = rest.strip_suffix(last) else {
                return false;
            };
            rest = r;
            middle = init;
        }
        for literal in middle {
            match rest
                .find(literal)
                .and_then(|at| rest.get(at + literal.len()..))
            {
                Some(r) => rest = r,
                None => return false,
            }
        }
        true
    }
}

impl FromStr for Pattern {
    type Err = PatternError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Pattern::new(s)
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(text: &str) -> Pattern {
        match Pattern::new(text) {
            Ok(p) => p,
            Err(e) => panic!("{text:?}: {e}"),
        }
    }

    #[test]
    fn spec_examples() {
        let p = pattern(r"Alice\*, Bob*, Carol.");
        for ok in [
            "Alice*, Bob, Carol.",
            "Alice*, Bob, Dan, Erin, Carol.",
            "Alice*, Bob  , Carol.",
            "Alice*, Bob*, Carol.",
        ] {
            assert!(p.matches(ok), "{ok:?}");
        }
        for bad in [
            "Alice*, Bob, Carol",
            "Alice*, Bob*, Carol!",
            "Alice, Bob, Carol.",
            "Alice Cooper, Bob, Carol.",
            " Alice*, Bob, Carol. ",
        ] {
            assert!(!p.matches(bad), "{bad:?}");
        }
    }

    #[test]
    fn wildcards_and_literals() {
        assert!(pattern("").matches(""));
        assert!(!pattern("").matches("a"));
        assert!(pattern("*").matches(""));
        assert!(pattern("**").matches("anything"));
        assert!(pattern("*@example.com").matches("bob@example.com"));
        assert!(!pattern("*@example.com").matches("carol@not.example.co"));
        assert!(pattern("a*").matches("a"));
        assert!(pattern("*a").matches("ba"));
        assert!(pattern("a*a").matches("aa"));
        assert!(!pattern("a*a").matches("a"));
        assert!(pattern("a*b*c").matches("abc"));
        assert!(pattern("a*b*c").matches("a_b_b_c"));
        assert!(!pattern("a*b*c").matches("a_c_b"));
        assert!(pattern("*b*").matches("abc"));
        assert!(!pattern("*b*").matches("ac"));
        assert!(pattern("é*ü").matches("éxü"));
        assert!(pattern("exact").matches("exact"));
        assert!(!pattern("exact").matches("exactly"));
    }

    #[test]
    fn escapes() {
        assert!(pattern(r"\*").matches("*"));
        assert!(!pattern(r"\*").matches("a"));
        assert!(pattern(r"C:\\*").matches(r"C:\Windows"));
        assert!(pattern(r"\\\*").matches(r"\*"));
        assert_eq!(
            Pattern::new(r"a\b").err().map(|e| e.to_string()).as_deref(),
            Some(r#"pattern "a\\b": "\b" is not an escape (only \* and \\ are)"#)
        );
        assert!(matches!(
            Pattern::new("a\\"),
            Err(PatternError::TrailingBackslash { .. })
        ));
    }

    #[test]
    fn keeps_its_source() {
        assert_eq!(pattern(r"a**\*").as_str(), r"a**\*");
        assert_eq!(pattern(r"a**\*").to_string(), r"a**\*");
    }
}
