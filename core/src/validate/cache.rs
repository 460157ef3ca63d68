//! Memo of delegations whose encoding and signature were already checked, by CID.
//!
//! A CID is the hash of the exact bytes, so a cached entry stands for the same signed
//! token; only the checks that depend on the moment (time bounds, revocation) and on the
//! invocation (alignment, command, policy) are repeated. The bytes are kept too, so a
//! validator can insist that a cached proof is still among those offered: a verdict never
//! depends on what the cache happens to hold.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::cid::Cid;
use crate::delegation::Delegation;

/// A verified delegation and the exact bytes it was read from.
#[derive(Debug)]
pub struct CachedProof {
    pub delegation: Arc<Delegation>,
    pub bytes: Box<[u8]>,
}

/// A bounded cache of verified delegations, safe to share between threads.
#[derive(Debug)]
pub struct ProofCache {
    entries: Mutex<HashMap<Cid, Arc<CachedProof>>>,
    capacity: usize,
}

impl ProofCache {
    pub fn new(capacity: usize) -> ProofCache {
        ProofCache {
            entries: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    pub fn get(&self, cid: &Cid) -> Option<Arc<CachedProof>> {
        self.lock().get(cid).cloned()
    }

    /// Remembers a verified delegation. When full, the cache starts over: simple, bounded,
    /// and costs at most one extra signature check per proof after a reset.
    pub fn insert(&self, cid: Cid, proof: Arc<CachedProof>) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.lock();
        if entries.len() >= self.capacity {
            entries.clear();
        }
        entries.insert(cid, proof);
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Cid, Arc<CachedProof>>> {
        // A panic while holding the lock cannot leave the map half-updated in a way that
        // matters: every entry is a complete, verified delegation.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}
