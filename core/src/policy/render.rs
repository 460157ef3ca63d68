//! Short, JSON-like text for values and statements in error messages, cut off at a length
//! so that a huge argument cannot make a huge message.

use crate::json;
use crate::value::Value;

/// How deep a rendering goes before writing `…` for the rest.
const MAX_RENDER_DEPTH: usize = 8;

/// Renders `value` as JSON text with a space after each `,` and `:`, cut to about `max`
/// characters (ending in `…` when cut).
pub(crate) fn value(value: &Value, max: usize) -> String {
    let mut out = Out::new(max);
    out.value(value, 0);
    out.finish()
}

/// Quotes `text` as a JSON string, cut to about `max` characters.
pub(crate) fn quoted(text: &str, max: usize) -> String {
    let mut out = Out::new(max);
    out.string(text);
    out.finish()
}

/// The article and name of a value's kind: "a map", "an integer".
pub(crate) fn a_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::String(_) => "a string",
        Value::Bytes(_) => "a byte string",
        Value::List(_) => "a list",
        Value::Map(_) => "a map",
        Value::Link(_) => "a link",
    }
}

struct Out {
    text: String,
    /// Characters in `text`.
    shown: usize,
    max: usize,
    cut: bool,
}

impl Out {
    fn new(max: usize) -> Out {
        Out {
            text: String::new(),
            shown: 0,
            max,
            cut: false,
        }
    }

    fn push(&mut self, s: &str) {
        if self.cut {
            return;
        }
        let room = self.max.saturating_sub(self.shown);
        let count = s.chars().count();
        if count <= room {
            self.text.push_str(s);
            self.shown += count;
        } else {
            self.text.extend(s.chars().take(room));
            self.shown += room;
            self.cut = true;
        }
    }

    fn finish(mut self) -> String {
        if self.cut {
            self.text.push('…');
        }
        self.text
    }

    fn string(&mut self, s: &str) {
        // Only as much of the string as could be shown is escaped.
        let head: String = s.chars().take(self.max.saturating_add(1)).collect();
        let quoted = serde_json::Value::from(head.as_str()).to_string();
        if head.len() < s.len() {
            // Drop the closing quote so the cut shows.
            self.push(quoted.trim_end_matches('"'));
            self.cut = true;
        } else {
            self.push(&quoted);
        }
    }

    fn value(&mut self, value: &Value, depth: usize) {
        if self.cut {
            return;
        }
        if depth > MAX_RENDER_DEPTH {
            self.cut = true;
            return;
        }
        match value {
            Value::String(s) => self.string(s),
            Value::List(items) => {
                self.push("[");
                for (i, item) in items.iter().enumerate() {
                    if self.cut {
                        return;
                    }
                    if i > 0 {
                        self.push(", ");
                    }
                    self.value(item, depth + 1);
                }
                self.push("]");
            }
            Value::Map(map) => {
                self.push("{");
                for (i, (key, item)) in map.iter().enumerate() {
                    if self.cut {
                        return;
                    }
                    if i > 0 {
                        self.push(", ");
                    }
                    self.string(key);
                    self.push(": ");
                    self.value(item, depth + 1);
                }
                self.push("}");
            }
            Value::Bytes(b) if b.len() > self.max => {
                let head = Value::Bytes(b.iter().take(self.max).copied().collect());
                self.push(&json::to_json(&head).to_string());
            }
            scalar => self.push(&json::to_json(scalar).to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_json_with_spaces() {
        let v = Value::List(vec![
            Value::from("<="),
            Value::from(".amount"),
            Value::Integer(4900),
            Value::Map([("k", Value::Float(1.5))].into_iter().collect()),
        ]);
        assert_eq!(value(&v, 100), r#"["<=", ".amount", 4900, {"k": 1.5}]"#);
    }

    #[test]
    fn cuts_long_output() {
        let long = Value::List((0..1000).map(Value::Integer).collect());
        let text = value(&long, 20);
        assert!(text.ends_with('…'));
        assert!(text.chars().count() <= 21);
        let s = quoted(&"x".repeat(1000), 10);
        assert_eq!(s, "\"xxxxxxxxx…");
        assert_eq!(quoted("ab", 10), "\"ab\"");
    }

    #[test]
    fn deep_values_are_cut() {
        let mut v = Value::Null;
        for _ in 0..50 {
            v = Value::List(vec![v]);
        }
        assert!(value(&v, 1000).ends_with('…'));
    }
}
