//! Conversion between JSON (in its DAG-JSON form) and the IPLD data model.
//!
//! Links are `{"/": "bafy…"}` and bytes are `{"/": {"bytes": "<base64, no padding>"}}`,
//! as in DAG-JSON; every other JSON value maps to the obvious IPLD kind. Integers that
//! fit are integers; any other number is a float.

use data_encoding::{BASE64, BASE64_NOPAD};
use serde_json::Value as Json;

use crate::cid::Cid;
use crate::value::{Map, Value};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    #[error("invalid JSON: {0}")]
    Syntax(String),
    #[error("JSON nested deeper than {0} levels")]
    TooDeep(usize),
    #[error("invalid link {0:?}: {1}")]
    BadLink(String, String),
    #[error("invalid bytes: not base64")]
    BadBytes,
    #[error("the number {0} cannot be represented")]
    BadNumber(String),
}

/// Nesting bound for JSON input, well below serde_json's own recursion limit.
pub const MAX_JSON_DEPTH: usize = 64;

/// Parses JSON text into an IPLD value.
pub fn parse(text: &str) -> Result<Value, JsonError> {
    let json: Json = serde_json::from_str(text).map_err(|e| JsonError::Syntax(e.to_string()))?;
    from_json(&json)
}

/// Converts a JSON value into an IPLD value.
pub fn from_json(json: &Json) -> Result<Value, JsonError> {
    convert_in(json, 0)
}

fn convert_in(json: &Json, depth: usize) -> Result<Value, JsonError> {
    if depth > MAX_JSON_DEPTH {
        return Err(JsonError::TooDeep(MAX_JSON_DEPTH));
    }
    Ok(match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Integer(i.into())
            } else if let Some(u) = n.as_u64() {
                Value::Integer(u.into())
            } else {
                match n.as_f64() {
                    Some(f) if f.is_finite() => Value::Float(f),
                    _ => return Err(JsonError::BadNumber(n.to_string())),
                }
            }
        }
        Json::String(s) => Value::String(s.clone()),
        Json::Array(items) => Value::List(
            items
                .iter()
                .map(|v| convert_in(v, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Json::Object(obj) => {
            if let (1, Some(slash)) = (obj.len(), obj.get("/")) {
                return special_form(slash);
            }
            let mut map = Map::new();
            for (k, v) in obj {
                map.insert(k.clone(), convert_in(v, depth + 1)?);
            }
            Value::Map(map)
        }
    })
}

fn special_form(slash: &Json) -> Result<Value, JsonError> {
    match slash {
        Json::String(s) => s
            .parse::<Cid>()
            .map(Value::Link)
            .map_err(|e| JsonError::BadLink(s.clone(), e.to_string())),
        Json::Object(o) if o.len() == 1 => match o.get("bytes") {
            Some(Json::String(b)) => {
                let trimmed = b.trim_end_matches('=');
                BASE64_NOPAD
                    .decode(trimmed.as_bytes())
                    .map(Value::Bytes)
                    .map_err(|_| JsonError::BadBytes)
            }
            _ => Err(JsonError::BadBytes),
        },
        _ => Err(JsonError::BadBytes),
    }
}

/// Converts an IPLD value to JSON in DAG-JSON form (bytes as unpadded base64).
pub fn to_json(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Integer(i) => {
            if let Ok(v) = i64::try_from(*i) {
                Json::from(v)
            } else if let Ok(v) = u64::try_from(*i) {
                Json::from(v)
            } else {
                // Below i64::MIN: JSON numbers cannot carry it exactly.
                Json::String(i.to_string())
            }
        }
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::String(s) => Json::String(s.clone()),
        Value::Bytes(b) => serde_json::json!({"/": {"bytes": BASE64_NOPAD.encode(b)}}),
        Value::List(l) => Json::Array(l.iter().map(to_json).collect()),
        Value::Map(m) => Json::Object(m.iter().map(|(k, v)| (k.to_owned(), to_json(v))).collect()),
        Value::Link(c) => serde_json::json!({"/": c.to_string()}),
    }
}

/// Decodes standard base64, with or without padding, as used by the fixtures and the CLI.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    BASE64
        .decode(text.as_bytes())
        .ok()
        .or_else(|| BASE64_NOPAD.decode(text.as_bytes()).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dag_json_forms() {
        let v = parse(r#"{"a": 1, "b": 1.5, "c": {"/": {"bytes": "AQID"}}, "d": [null, true]}"#)
            .expect("valid");
        let m = v.as_map().expect("map");
        assert_eq!(m.get("a"), Some(&Value::Integer(1)));
        assert_eq!(m.get("b"), Some(&Value::Float(1.5)));
        assert_eq!(m.get("c"), Some(&Value::Bytes(vec![1, 2, 3])));
        assert_eq!(to_json(&v)["c"]["/"]["bytes"], "AQID");
    }

    #[test]
    fn rejects_deep_nesting() {
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert_eq!(parse(&deep), Err(JsonError::TooDeep(MAX_JSON_DEPTH)));
    }
}
