//! Upstream request bodies and queries built from the args, as a route maps them.

use std::collections::BTreeMap;

use countersign_core::{Map, Value};
use serde_json::Value as Json;

use crate::config::template::FieldSource;

/// The fields a route maps, as a JSON object; fields whose arg is missing are left out.
pub fn fields(mapping: &BTreeMap<String, FieldSource>, args: &Map) -> Result<Json, String> {
    let mut object = serde_json::Map::new();
    for (name, source) in mapping {
        let value = match source {
            FieldSource::Const(value) => value.clone(),
            FieldSource::Arg(path) => match path.select(args) {
                Some(value) => to_json(value).map_err(|e| format!("{path}: {e}"))?,
                None => continue,
            },
        };
        object.insert(name.clone(), value);
    }
    Ok(Json::Object(object))
}

/// An args value as JSON for an upstream. Bytes and links have no plain JSON form and
/// are refused rather than sent in an encoding the upstream would not expect.
pub fn to_json(value: &Value) -> Result<Json, String> {
    Ok(match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Integer(i) => {
            if let Ok(v) = i64::try_from(*i) {
                Json::from(v)
            } else if let Ok(v) = u64::try_from(*i) {
                Json::from(v)
            } else {
                return Err(format!("the integer {i} is out of range"));
            }
        }
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(Json::Number)
            .ok_or("a float is not finite")?,
        Value::String(s) => Json::String(s.clone()),
        Value::List(items) => Json::Array(items.iter().map(to_json).collect::<Result<_, _>>()?),
        Value::Map(map) => Json::Object(
            map.iter()
                .map(|(k, v)| Ok((k.to_owned(), to_json(v)?)))
                .collect::<Result<_, String>>()?,
        ),
        Value::Bytes(_) | Value::Link(_) => {
            return Err(format!("a {} cannot be sent upstream", value.kind()));
        }
    })
}

/// `application/x-www-form-urlencoded` pairs of a JSON object, nesting as payment APIs
/// expect: `metadata[order]=7`, `items[0]=a`. Nulls are left out.
pub fn form_pairs(object: &Json) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Json::Object(map) = object {
        for (key, value) in map {
            flatten(key.clone(), value, &mut out);
        }
    }
    out
}

fn flatten(prefix: String, value: &Json, out: &mut Vec<(String, String)>) {
    match value {
        Json::Null => {}
        Json::Bool(b) => out.push((prefix, b.to_string())),
        Json::Number(n) => out.push((prefix, n.to_string())),
        Json::String(s) => out.push((prefix, s.clone())),
        Json::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                flatten(format!("{prefix}[{i}]"), item, out);
            }
        }
        Json::Object(map) => {
            for (key, item) in map {
                flatten(format!("{prefix}[{key}]"), item, out);
            }
        }
    }
}

/// Encodes pairs as a form body or query string.
pub fn encode_form(pairs: &[(String, String)]) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        serializer.append_pair(k, v);
    }
    serializer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(s: &str) -> FieldSource {
        FieldSource::Arg(s.parse().unwrap())
    }

    #[test]
    fn maps_fields_and_nests_forms() {
        let meta: Map = [("order", Value::from("o 1"))].into_iter().collect();
        let args: Map = [
            ("amount", Value::from(4900i64)),
            ("charge", Value::from("ch_1")),
            ("meta", Value::Map(meta)),
        ]
        .into_iter()
        .collect();
        let mapping: BTreeMap<String, FieldSource> = [
            ("amount".to_owned(), path(".amount")),
            ("charge".to_owned(), path("charge")),
            ("metadata".to_owned(), path(".meta")),
            ("reason".to_owned(), path(".reason")),
            ("currency".to_owned(), FieldSource::Const(Json::from("usd"))),
        ]
        .into_iter()
        .collect();
        let object = fields(&mapping, &args).unwrap();
        assert_eq!(
            object,
            serde_json::json!({"amount": 4900, "charge": "ch_1", "currency": "usd",
                               "metadata": {"order": "o 1"}})
        );
        assert_eq!(
            encode_form(&form_pairs(&object)),
            "amount=4900&charge=ch_1&currency=usd&metadata%5Border%5D=o+1"
        );
    }

    #[test]
    fn refuses_bytes() {
        let args: Map = [("a", Value::Bytes(vec![1]))].into_iter().collect();
        let mapping = [("a".to_owned(), path(".a"))].into_iter().collect();
        assert!(fields(&mapping, &args).unwrap_err().contains("bytes"));
    }
}
