//! The proofs that come with an invocation, found by CID.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::cid::Cid;

/// Token bytes offered as proofs, looked up by the CID each one hashes to.
///
/// CIDs are computed on the first lookup, so a validator whose cache already holds every
/// proof never hashes them.
#[derive(Debug, Default)]
pub struct ProofSet {
    tokens: Vec<Vec<u8>>,
    index: OnceLock<HashMap<Cid, usize>>,
}

impl ProofSet {
    pub fn new(tokens: impl IntoIterator<Item = Vec<u8>>) -> ProofSet {
        ProofSet {
            tokens: tokens.into_iter().collect(),
            index: OnceLock::new(),
        }
    }

    /// The token whose bytes hash to `cid`, if offered.
    pub fn get(&self, cid: &Cid) -> Option<&[u8]> {
        let index = self.index.get_or_init(|| {
            self.tokens
                .iter()
                .enumerate()
                .map(|(i, t)| (Cid::dag_cbor(t), i))
                .collect()
        });
        index
            .get(cid)
            .and_then(|&i| self.tokens.get(i))
            .map(Vec::as_slice)
    }

    /// Whether these exact bytes are among the offered tokens (no hashing needed).
    pub fn contains_bytes(&self, bytes: &[u8]) -> bool {
        self.tokens.iter().any(|t| t.as_slice() == bytes)
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
}
