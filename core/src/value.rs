//! The IPLD data model that UCAN payloads, arguments and policies are made of.

use std::cmp::Ordering;
use std::fmt;

use crate::cid::Cid;

/// One IPLD value, as DAG-CBOR can carry it.
///
/// Integers span the full DAG-CBOR range (−2⁶⁴ … 2⁶⁴−1), so they are held as `i128`.
/// Floats are always finite: DAG-CBOR forbids NaN and the infinities.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Integer(i128),
    Float(f64),
    String(String),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Map(Map),
    Link(Cid),
}

impl Value {
    /// The name of this value's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Integer(_) => "integer",
            Value::Float(_) => "float",
            Value::String(_) => "string",
            Value::Bytes(_) => "bytes",
            Value::List(_) => "list",
            Value::Map(_) => "map",
            Value::Link(_) => "link",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&Map> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// Numeric view of an integer or a float, for comparisons that mix the two.
    pub fn as_number(&self) -> Option<Number> {
        match self {
            Value::Integer(i) => Some(Number::Integer(*i)),
            Value::Float(f) => Some(Number::Float(*f)),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Integer(i128::from(i))
    }
}

impl From<u64> for Value {
    fn from(i: u64) -> Self {
        Value::Integer(i128::from(i))
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<Map> for Value {
    fn from(m: Map) -> Self {
        Value::Map(m)
    }
}

impl From<Vec<Value>> for Value {
    fn from(l: Vec<Value>) -> Self {
        Value::List(l)
    }
}

/// An integer or a float, compared by numeric value.
#[derive(Clone, Copy, Debug)]
pub enum Number {
    Integer(i128),
    Float(f64),
}

impl Number {
    /// Compares two numbers by value; integers and floats compare exactly
    /// (no rounding of large integers through `f64`).
    pub fn compare(self, other: Number) -> Option<Ordering> {
        match (self, other) {
            (Number::Integer(a), Number::Integer(b)) => Some(a.cmp(&b)),
            (Number::Float(a), Number::Float(b)) => a.partial_cmp(&b),
            (Number::Integer(a), Number::Float(b)) => compare_int_float(a, b),
            (Number::Float(a), Number::Integer(b)) => {
                compare_int_float(b, a).map(Ordering::reverse)
            }
        }
    }
}

fn compare_int_float(i: i128, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    // Every i128 we hold lies within ±2^64, which f64 represents with a finite value.
    let floor = f.floor();
    if floor < -1.9e19 {
        return Some(Ordering::Greater);
    }
    if floor > 1.9e19 {
        return Some(Ordering::Less);
    }
    // floor is an integer within i128 range: compare exactly, then break ties by the fraction.
    let whole = floor as i128;
    match i.cmp(&whole) {
        Ordering::Equal if f > floor => Some(Ordering::Less),
        other => Some(other),
    }
}

/// Orders map keys the way DAG-CBOR requires: shorter keys first, then bytewise.
pub fn canonical_key_order(a: &str, b: &str) -> Ordering {
    a.len()
        .cmp(&b.len())
        .then_with(|| a.as_bytes().cmp(b.as_bytes()))
}

/// A map with string keys, kept in DAG-CBOR canonical key order.
#[derive(Clone, Default, PartialEq)]
pub struct Map {
    entries: Vec<(String, Value)>,
}

impl Map {
    pub fn new() -> Self {
        Map::default()
    }

    /// Wraps entries that the caller has already checked to be in strictly increasing
    /// canonical order (the DAG-CBOR decoder does so as it reads them).
    pub(crate) fn from_canonical_entries(entries: Vec<(String, Value)>) -> Self {
        debug_assert!(
            entries
                .windows(2)
                .all(|w| canonical_key_order(&w[0].0, &w[1].0) == Ordering::Less)
        );
        Map { entries }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries
            .binary_search_by(|(k, _)| canonical_key_order(k, key))
            .ok()
            .map(|i| &self.entries[i].1)
    }

    /// Inserts or replaces a value; returns the previous one.
    pub fn insert(&mut self, key: impl Into<String>, value: Value) -> Option<Value> {
        let key = key.into();
        match self
            .entries
            .binary_search_by(|(k, _)| canonical_key_order(k, &key))
        {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.entries.insert(i, (key, value));
                None
            }
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.entries
            .binary_search_by(|(k, _)| canonical_key_order(k, key))
            .ok()
            .map(|i| self.entries.remove(i).1)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries in canonical key order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &Value)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn values(&self) -> impl ExactSizeIterator<Item = &Value> {
        self.entries.iter().map(|(_, v)| v)
    }
}

impl fmt::Debug for Map {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: Into<String>> FromIterator<(K, Value)> for Map {
    /// Collects entries; a later duplicate key replaces an earlier one.
    fn from_iter<I: IntoIterator<Item = (K, Value)>>(iter: I) -> Self {
        let mut map = Map::new();
        for (k, v) in iter {
            map.insert(k, v);
        }
        map
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_keeps_canonical_order() {
        let map: Map = [("bb", Value::Null), ("a", Value::Null), ("c", Value::Null)]
            .into_iter()
            .collect();
        let keys: Vec<_> = map.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["a", "c", "bb"]);
        assert_eq!(map.get("bb"), Some(&Value::Null));
        assert_eq!(map.get("b"), None);
    }

    #[test]
    fn numbers_compare_across_kinds_exactly() {
        let i = Number::Integer;
        let f = Number::Float;
        assert_eq!(i(1).compare(f(1.0)), Some(Ordering::Equal));
        assert_eq!(i(1).compare(f(1.5)), Some(Ordering::Less));
        assert_eq!(f(1.5).compare(i(1)), Some(Ordering::Greater));
        assert_eq!(i(-2).compare(f(-1.5)), Some(Ordering::Less));
        assert_eq!(i(-1).compare(f(-1.5)), Some(Ordering::Greater));
        // 2^53 + 1 is not representable as f64; the comparison must still be exact.
        assert_eq!(
            i(9_007_199_254_740_993).compare(f(9_007_199_254_740_992.0)),
            Some(Ordering::Greater)
        );
        assert_eq!(i(u64::MAX.into()).compare(f(1e30)), Some(Ordering::Less));
    }
}
