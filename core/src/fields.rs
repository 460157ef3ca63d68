//! Typed, strict reading of token payload fields, with errors that name the field.

use crate::cid::Cid;
use crate::command::Command;
use crate::did::Did;
use crate::value::{Map, Value};

/// Largest timestamp allowed: 2^53 − 1, the largest integer every implementation can hold.
pub const MAX_TIMESTAMP: u64 = (1 << 53) - 1;

/// A payload field that is missing, of the wrong kind, or holds a bad value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field {field:?}: {reason}")]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

fn fail<T>(field: &str, reason: impl Into<String>) -> Result<T, FieldError> {
    Err(FieldError {
        field: field.to_owned(),
        reason: reason.into(),
    })
}

/// Rejects any field not in `allowed`.
pub fn deny_unknown(map: &Map, allowed: &[&str]) -> Result<(), FieldError> {
    match map.iter().find(|(k, _)| !allowed.contains(k)) {
        Some((k, _)) => fail(k, "unknown field"),
        None => Ok(()),
    }
}

fn required<'a>(map: &'a Map, field: &str) -> Result<&'a Value, FieldError> {
    match map.get(field) {
        Some(v) => Ok(v),
        None => fail(field, "is required"),
    }
}

pub fn did(map: &Map, field: &str) -> Result<Did, FieldError> {
    parse_did(required(map, field)?, field)
}

fn parse_did(value: &Value, field: &str) -> Result<Did, FieldError> {
    match value {
        Value::String(s) => s
            .parse()
            .or_else(|e: crate::did::DidError| fail(field, e.to_string())),
        other => fail(
            field,
            format!("expected a DID string, found {}", other.kind()),
        ),
    }
}

/// A field that must be present and may be null (delegation `sub`).
pub fn nullable_did(map: &Map, field: &str) -> Result<Option<Did>, FieldError> {
    match required(map, field)? {
        Value::Null => Ok(None),
        v => parse_did(v, field).map(Some),
    }
}

pub fn optional_did(map: &Map, field: &str) -> Result<Option<Did>, FieldError> {
    map.get(field).map(|v| parse_did(v, field)).transpose()
}

pub fn command(map: &Map, field: &str) -> Result<Command, FieldError> {
    match required(map, field)? {
        Value::String(s) => s
            .parse()
            .or_else(|e: crate::command::CommandError| fail(field, e.to_string())),
        other => fail(
            field,
            format!("expected a command string, found {}", other.kind()),
        ),
    }
}

fn parse_time(value: &Value, field: &str) -> Result<u64, FieldError> {
    match value {
        Value::Integer(i) => match u64::try_from(*i) {
            Ok(t) if t <= MAX_TIMESTAMP => Ok(t),
            _ => fail(field, format!("timestamp {i} is outside 0 … 2^53−1")),
        },
        other => fail(
            field,
            format!("expected an integer timestamp, found {}", other.kind()),
        ),
    }
}

/// A field that must be present and may be null (`exp`).
pub fn nullable_time(map: &Map, field: &str) -> Result<Option<u64>, FieldError> {
    match required(map, field)? {
        Value::Null => Ok(None),
        v => parse_time(v, field).map(Some),
    }
}

pub fn optional_time(map: &Map, field: &str) -> Result<Option<u64>, FieldError> {
    map.get(field).map(|v| parse_time(v, field)).transpose()
}

/// Takes a bytes field out of the payload.
pub fn take_bytes(map: &mut Map, field: &str) -> Result<Vec<u8>, FieldError> {
    match map.remove(field) {
        Some(Value::Bytes(b)) => Ok(b),
        Some(other) => fail(field, format!("expected bytes, found {}", other.kind())),
        None => fail(field, "is required"),
    }
}

/// Takes a required map field out of the payload.
pub fn take_map(map: &mut Map, field: &str) -> Result<Map, FieldError> {
    match map.remove(field) {
        Some(Value::Map(m)) => Ok(m),
        Some(other) => fail(field, format!("expected a map, found {}", other.kind())),
        None => fail(field, "is required"),
    }
}

/// Takes an optional map field out of the payload.
pub fn take_optional_map(map: &mut Map, field: &str) -> Result<Option<Map>, FieldError> {
    match map.remove(field) {
        None => Ok(None),
        Some(Value::Map(m)) => Ok(Some(m)),
        Some(other) => fail(field, format!("expected a map, found {}", other.kind())),
    }
}

pub fn links(map: &Map, field: &str) -> Result<Vec<Cid>, FieldError> {
    match required(map, field)? {
        Value::List(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::Link(c) => Ok(c.clone()),
                other => fail(
                    field,
                    format!("item {i}: expected a CID link, found {}", other.kind()),
                ),
            })
            .collect(),
        other => fail(
            field,
            format!("expected a list of CID links, found {}", other.kind()),
        ),
    }
}

pub fn optional_link(map: &Map, field: &str) -> Result<Option<Cid>, FieldError> {
    match map.get(field) {
        None => Ok(None),
        Some(Value::Link(c)) => Ok(Some(c.clone())),
        Some(other) => fail(
            field,
            format!("expected a CID link, found {}", other.kind()),
        ),
    }
}

/// A time as the payload carries it: an integer or null.
pub fn time_value(t: Option<u64>) -> Value {
    t.map_or(Value::Null, Value::from)
}
