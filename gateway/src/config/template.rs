//! How a route names parts of the invocation's args: paths (`.amount`), URL templates
//! (`https://api.example.com/v1/charges/{charge}`) and body fields (a path or a constant).

use std::fmt;
use std::str::FromStr;

use countersign_core::{Map, Value};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Deserializer};

/// A path into the args: `amount`, `.amount` or `.metadata.order_id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgPath {
    segments: Vec<String>,
}

impl ArgPath {
    /// The top-level args key this path reads.
    pub fn top(&self) -> &str {
        self.segments.first().map_or("", String::as_str)
    }

    /// The value at this path; `None` when a key is missing or the value is `null`.
    pub fn select<'a>(&self, args: &'a Map) -> Option<&'a Value> {
        let mut segments = self.segments.iter();
        let mut current = args.get(segments.next()?)?;
        for key in segments {
            current = current.as_map()?.get(key)?;
        }
        (*current != Value::Null).then_some(current)
    }
}

impl FromStr for ArgPath {
    type Err = String;

    fn from_str(s: &str) -> Result<ArgPath, String> {
        let body = s.strip_prefix('.').unwrap_or(s);
        let segments: Vec<String> = body.split('.').map(str::to_owned).collect();
        let valid = |seg: &String| {
            !seg.is_empty()
                && seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        if segments.iter().all(valid) && segments.len() <= 8 {
            Ok(ArgPath { segments })
        } else {
            Err(format!(
                "{s:?} is not an args path: use keys of letters, digits, _ and -, separated \
                 by dots, like \".amount\" or \".metadata.order_id\""
            ))
        }
    }
}

impl fmt::Display for ArgPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, ".{}", self.segments.join("."))
    }
}

impl<'de> Deserialize<'de> for ArgPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Where an upstream field's value comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldSource {
    /// A value of the args; the field is left out when the args do not have it.
    Arg(ArgPath),
    /// A constant, written as `{ value = … }`.
    Const(serde_json::Value),
}

impl<'de> Deserialize<'de> for FieldSource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        const HOW: &str = "a field is an args path like \".amount\" or a constant { value = … }";
        match toml::Value::deserialize(d)? {
            toml::Value::String(s) => s.parse().map(FieldSource::Arg).map_err(D::Error::custom),
            toml::Value::Table(t) if t.len() == 1 => match t.into_iter().next() {
                Some((key, value)) if key == "value" => serde_json::to_value(value)
                    .map(FieldSource::Const)
                    .map_err(D::Error::custom),
                _ => Err(D::Error::custom(HOW)),
            },
            _ => Err(D::Error::custom(HOW)),
        }
    }
}

/// Characters kept as they are when an arg is put into a URL: RFC 3986 unreserved ones.
const URL_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Arg(ArgPath),
}

/// A URL with `{path}` placeholders in its path and query, filled from the args and
/// percent-encoded. Placeholders in the scheme or host are refused, so that args can
/// never choose where a request (and its credential) goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlTemplate {
    text: String,
    parts: Vec<Part>,
}

impl UrlTemplate {
    /// The args paths the template reads.
    pub fn args(&self) -> impl Iterator<Item = &ArgPath> {
        self.parts.iter().filter_map(|p| match p {
            Part::Arg(a) => Some(a),
            Part::Text(_) => None,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The URL for these args. Every placeholder must select a string or an integer.
    pub fn render(&self, args: &Map) -> Result<String, String> {
        let mut out = String::with_capacity(self.text.len() + 32);
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Arg(path) => {
                    let text = match path.select(args) {
                        Some(Value::String(s)) if !s.is_empty() => s.clone(),
                        Some(Value::Integer(i)) => i.to_string(),
                        Some(other) => {
                            return Err(format!(
                                "{path} is a {}; the URL needs a non-empty string or an integer",
                                other.kind()
                            ));
                        }
                        None => return Err(format!("{path} is required by the URL")),
                    };
                    // URL parsers resolve these as dot segments, whatever their encoding.
                    if text == "." || text == ".." {
                        return Err(format!("{path} may not be {text:?} in a URL"));
                    }
                    out.extend(utf8_percent_encode(&text, URL_COMPONENT));
                }
            }
        }
        Ok(out)
    }
}

impl FromStr for UrlTemplate {
    type Err = String;

    fn from_str(s: &str) -> Result<UrlTemplate, String> {
        let mut parts = Vec::new();
        let mut rest = s;
        while let Some(open) = rest.find('{') {
            let close = rest[open..]
                .find('}')
                .map(|c| open + c)
                .ok_or_else(|| format!("{s:?}: a '{{' is not closed"))?;
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            parts.push(Part::Arg(rest[open + 1..close].parse()?));
            rest = &rest[close + 1..];
        }
        if rest.contains('}') {
            return Err(format!("{s:?}: a '}}' has no '{{'"));
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        // The scheme, host and port must be literal: the first placeholder may only come
        // after the '/' that starts the path.
        let literal_prefix = match parts.first() {
            Some(Part::Text(t)) => t.as_str(),
            _ => "",
        };
        let after_scheme = literal_prefix
            .strip_prefix("https://")
            .or_else(|| literal_prefix.strip_prefix("http://"))
            .ok_or_else(|| format!("{s:?} must start with https:// or http://"))?;
        let has_args = parts.iter().any(|p| matches!(p, Part::Arg(_)));
        if has_args && !after_scheme.contains('/') {
            return Err(format!(
                "{s:?}: placeholders may only appear in the path and query, not in the host"
            ));
        }
        let sample: String = parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.as_str(),
                Part::Arg(_) => "x",
            })
            .collect();
        let url = reqwest::Url::parse(&sample).map_err(|e| format!("{s:?}: {e}"))?;
        if url.host_str().is_none_or(str::is_empty) || !url.username().is_empty() {
            return Err(format!("{s:?} must name a host, without user information"));
        }
        if url.fragment().is_some() {
            return Err(format!("{s:?} must not have a #fragment"));
        }
        Ok(UrlTemplate {
            text: s.to_owned(),
            parts,
        })
    }
}

impl<'de> Deserialize<'de> for UrlTemplate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(pairs: &[(&str, Value)]) -> Map {
        pairs.iter().cloned().collect()
    }

    #[test]
    fn paths_select_nested_keys() {
        let a = args(&[
            ("amount", Value::from(5i64)),
            ("meta", Value::Map(args(&[("id", Value::from("x"))]))),
            ("gone", Value::Null),
        ]);
        let p = |s: &str| s.parse::<ArgPath>().unwrap();
        assert_eq!(p(".amount").select(&a), Some(&Value::from(5i64)));
        assert_eq!(p("amount").top(), "amount");
        assert_eq!(p(".meta.id").select(&a), Some(&Value::from("x")));
        assert_eq!(p(".meta.id").top(), "meta");
        assert_eq!(p(".gone").select(&a), None);
        assert_eq!(p(".amount.x").select(&a), None);
        for bad in ["", ".", "..a", ".a b", ".a[0]", ".a."] {
            assert!(bad.parse::<ArgPath>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn urls_are_filled_and_encoded() {
        let t: UrlTemplate = "https://api.example.com/v1/charges/{charge}?expand={e}"
            .parse()
            .unwrap();
        let a = args(&[("charge", Value::from("ch/1 ?#")), ("e", Value::from(7i64))]);
        assert_eq!(
            t.render(&a).unwrap(),
            "https://api.example.com/v1/charges/ch%2F1%20%3F%23?expand=7"
        );
        let missing = args(&[("e", Value::from(7i64))]);
        assert!(t.render(&missing).unwrap_err().contains(".charge"));
        let list = args(&[("charge", Value::List(vec![])), ("e", Value::from(1i64))]);
        assert!(t.render(&list).unwrap_err().contains("list"));
        let dots = args(&[("charge", Value::from("..")), ("e", Value::from(1i64))]);
        assert!(t.render(&dots).is_err());
    }

    #[test]
    fn args_cannot_choose_the_host() {
        for bad in [
            "https://{host}/v1",
            "https://api.{x}.com/v1",
            "ftp://example.com/",
            "https://example.com/{a",
            "https://example.com/a}",
            "https://user@example.com/",
            "example.com/{a}",
        ] {
            assert!(bad.parse::<UrlTemplate>().is_err(), "{bad}");
        }
        assert!(
            "https://example.com:8443/{a}"
                .parse::<UrlTemplate>()
                .is_ok()
        );
    }
}
