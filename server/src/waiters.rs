//! Wakes agents waiting on a request the moment it is decided.
//!
//! A waiter subscribes before it reads the request, so a decision that commits between
//! the read and the wait is never missed; the wait also has a deadline, so a wake-up lost
//! for any reason only delays the answer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

#[derive(Debug, Default)]
pub struct Waiters {
    map: Mutex<HashMap<String, Arc<Notify>>>,
}

impl Waiters {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<Notify>>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers interest in `id`; await [`Subscription::wait`] after reading the state.
    pub fn subscribe(&self, id: &str) -> Subscription<'_> {
        let notify = self.lock().entry(id.to_owned()).or_default().clone();
        Subscription {
            waiters: self,
            id: id.to_owned(),
            notify,
        }
    }

    /// Wakes everyone waiting on `id`.
    pub fn wake(&self, id: &str) {
        if let Some(n) = self.lock().get(id) {
            n.notify_waiters();
        }
    }

    /// Wakes every waiter, to re-read its request.
    pub fn wake_all(&self) {
        for n in self.lock().values() {
            n.notify_waiters();
        }
    }

    /// How many requests have someone waiting.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug)]
pub struct Subscription<'a> {
    waiters: &'a Waiters,
    id: String,
    notify: Arc<Notify>,
}

impl Subscription<'_> {
    /// The next wake-up. Pin it and call `enable()` before reading the state it guards.
    pub fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.notify.notified()
    }
}

impl Drop for Subscription<'_> {
    fn drop(&mut self) {
        let mut map = self.waiters.lock();
        // The map holds one reference and this subscription another: nobody else waits.
        if Arc::strong_count(&self.notify) <= 2 {
            map.remove(&self.id);
        }
    }
}
