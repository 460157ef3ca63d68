//! The gateway's view of the revocation feed: the revoked CIDs, how far it has read, and
//! when it last knew itself to be up to date.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{RwLock, RwLockReadGuard};

use countersign_core::Cid;
use tokio::sync::watch;

/// Revoked CIDs and the freshness of that knowledge. Shared by the feed task (writer)
/// and every invocation check (readers).
#[derive(Debug)]
pub struct RevocationView {
    revoked: RwLock<HashSet<Cid>>,
    /// Clock time of the last successful sync; `i64::MIN` before the first.
    last_sync: AtomicI64,
    /// Whether the live stream is connected.
    live: AtomicBool,
    cursor: watch::Sender<i64>,
}

impl RevocationView {
    pub fn new(cursor: i64, revoked: impl IntoIterator<Item = Cid>) -> RevocationView {
        RevocationView {
            revoked: RwLock::new(revoked.into_iter().collect()),
            last_sync: AtomicI64::new(i64::MIN),
            live: AtomicBool::new(false),
            cursor: watch::Sender::new(cursor),
        }
    }

    /// The revoked set, to validate against (`HashSet<Cid>` is a core `Revocations`).
    pub fn revoked(&self) -> RwLockReadGuard<'_, HashSet<Cid>> {
        // A panic while holding the lock cannot leave the set half-updated in a way that
        // matters: entries are only ever added.
        self.revoked.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn is_revoked(&self, cid: &Cid) -> bool {
        self.revoked().contains(cid)
    }

    pub fn add(&self, cids: impl IntoIterator<Item = Cid>) {
        let mut set = self.revoked.write().unwrap_or_else(|e| e.into_inner());
        set.extend(cids);
    }

    pub fn len(&self) -> usize {
        self.revoked().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The feed position read so far.
    pub fn cursor(&self) -> i64 {
        *self.cursor.borrow()
    }

    pub fn set_cursor(&self, cursor: i64) {
        self.cursor.send_if_modified(|c| {
            let newer = cursor > *c;
            if newer {
                *c = cursor;
            }
            newer
        });
    }

    /// Watches the cursor move (tests wait on it instead of sleeping).
    pub fn watch_cursor(&self) -> watch::Receiver<i64> {
        self.cursor.subscribe()
    }

    /// Records that the view was up to date at `now`.
    pub fn synced(&self, now: i64) {
        self.last_sync.fetch_max(now, Ordering::SeqCst);
    }

    /// Records whether the live stream is connected.
    pub fn set_live(&self, live: bool) {
        self.live.store(live, Ordering::SeqCst);
    }

    /// Whether the live stream is connected.
    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::SeqCst)
    }

    /// When the view was last known up to date, if ever.
    pub fn last_sync(&self) -> Option<i64> {
        let at = self.last_sync.load(Ordering::SeqCst);
        (at != i64::MIN).then_some(at)
    }

    /// Whether the view is too old to decide on: never synced, or last synced more than
    /// `max_age` seconds before `now`.
    pub fn is_stale(&self, now: i64, max_age: u64) -> bool {
        match self.last_sync() {
            None => true,
            Some(at) => now.saturating_sub(at) > i64::try_from(max_age).unwrap_or(i64::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staleness_follows_the_last_sync() {
        let view = RevocationView::new(0, []);
        assert!(view.is_stale(100, 30));
        view.synced(100);
        assert!(!view.is_stale(130, 30));
        assert!(view.is_stale(131, 30));
        view.synced(90);
        assert_eq!(view.last_sync(), Some(100));
    }

    #[test]
    fn the_cursor_only_moves_forward() {
        let view = RevocationView::new(5, []);
        view.set_cursor(3);
        assert_eq!(view.cursor(), 5);
        view.set_cursor(9);
        assert_eq!(view.cursor(), 9);
    }
}
