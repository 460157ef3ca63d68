//! What an entry's hash covers, and what a checkpoint signs.

use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};

/// The `prev` of the first entry.
pub const GENESIS: [u8; 32] = [0; 32];

/// One audit entry. `hash` covers `prev` and every other field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// 1, 2, 3, … without gaps.
    pub seq: i64,
    pub at: i64,
    pub kind: String,
    /// Who caused it: a DID, or `service`.
    pub actor: String,
    /// What it is about: a request id, a CID, an agent name…
    pub subject: String,
    pub data: Json,
    /// Hex of the previous entry's hash.
    pub prev: String,
    /// Hex of this entry's hash.
    pub hash: String,
}

/// A statement by the service: the log had `count` entries ending in `head` at `at`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub count: i64,
    pub head: String,
    pub at: i64,
    /// Standard base64 of the Ed25519 signature over [`checkpoint_message`].
    pub signature: String,
}

/// SHA-256 over a domain tag, the previous hash, and the entry's fields as canonical JSON
/// (keys sorted, no whitespace).
pub fn entry_hash(
    prev: &[u8; 32],
    seq: i64,
    at: i64,
    kind: &str,
    actor: &str,
    subject: &str,
    data: &Json,
) -> [u8; 32] {
    let body = json!({
        "seq": seq, "at": at, "kind": kind, "actor": actor, "subject": subject, "data": data,
    });
    let mut h = Sha256::new();
    h.update(b"countersign-audit-v1\n");
    h.update(prev);
    h.update(canonical(&body).as_bytes());
    h.finalize().into()
}

/// JSON with object keys sorted at every level.
fn canonical(v: &Json) -> String {
    fn sorted(v: &Json) -> Json {
        match v {
            Json::Object(m) => {
                let mut keys: Vec<_> = m.keys().collect();
                keys.sort();
                Json::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), sorted(&m[k])))
                        .collect(),
                )
            }
            Json::Array(a) => Json::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(v).to_string()
}

/// The bytes a checkpoint's signature covers.
pub fn checkpoint_message(count: i64, head: &str, at: i64) -> String {
    format!("countersign-audit-checkpoint-v1\n{count}\n{head}\n{at}")
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_covers_every_field_and_ignores_key_order() {
        let data = json!({"b": 1, "a": [1, {"y": 2, "x": 3}]});
        let same = serde_json::from_str::<Json>(r#"{"a": [1, {"x": 3, "y": 2}], "b": 1}"#).unwrap();
        let h = entry_hash(&GENESIS, 1, 10, "k", "me", "s", &data);
        assert_eq!(h, entry_hash(&GENESIS, 1, 10, "k", "me", "s", &same));
        assert_ne!(h, entry_hash(&[1; 32], 1, 10, "k", "me", "s", &data));
        assert_ne!(h, entry_hash(&GENESIS, 2, 10, "k", "me", "s", &data));
        assert_ne!(h, entry_hash(&GENESIS, 1, 11, "k", "me", "s", &data));
        assert_ne!(h, entry_hash(&GENESIS, 1, 10, "j", "me", "s", &data));
        assert_ne!(h, entry_hash(&GENESIS, 1, 10, "k", "you", "s", &data));
        assert_ne!(h, entry_hash(&GENESIS, 1, 10, "k", "me", "t", &data));
        assert_ne!(h, entry_hash(&GENESIS, 1, 10, "k", "me", "s", &json!({})));
    }
}
