//! Streams held open per caller. A long-poll or an event stream keeps a connection busy
//! for up to minutes; each authenticated caller may hold at most
//! `limits.max_streams_per_caller` of them at once, so one agent cannot take the
//! service's connections for itself.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::http::StatusCode;
use countersign_core::Did;

use crate::error::ApiError;

/// The count of open streams per caller.
#[derive(Debug)]
pub struct Holds {
    max: usize,
    held: Arc<Mutex<HashMap<Did, usize>>>,
}

/// One open stream; the caller's count goes down when it is dropped.
#[derive(Debug)]
pub struct Hold {
    held: Arc<Mutex<HashMap<Did, usize>>>,
    caller: Did,
}

impl Holds {
    pub fn new(max: usize) -> Self {
        Holds {
            max,
            held: Arc::default(),
        }
    }

    /// Counts one more open stream for `caller`, or refuses with `429 too_many_streams`.
    pub fn take(&self, caller: &Did) -> Result<Hold, ApiError> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let count = held.entry(*caller).or_insert(0);
        if *count >= self.max {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_streams",
                format!(
                    "this caller already holds {} long-polls or event streams open \
                     (limits.max_streams_per_caller); close one first",
                    self.max
                ),
            ));
        }
        *count += 1;
        Ok(Hold {
            held: self.held.clone(),
            caller: *caller,
        })
    }

    /// How many streams `caller` holds now.
    pub fn held_by(&self, caller: &Did) -> usize {
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.get(caller).copied().unwrap_or(0)
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = held.get_mut(&self.caller) {
            *count -= 1;
            if *count == 0 {
                held.remove(&self.caller);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use countersign_core::Keypair;

    #[test]
    fn a_caller_holds_at_most_max_and_gets_them_back_when_dropped() {
        let holds = Holds::new(2);
        let a = Keypair::from_seed(&[1; 32]).did();
        let b = Keypair::from_seed(&[2; 32]).did();
        let first = holds.take(&a).unwrap();
        let _second = holds.take(&a).unwrap();
        let refused = holds.take(&a).unwrap_err();
        assert_eq!(refused.code, "too_many_streams");
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        // Another caller is not affected.
        let _other = holds.take(&b).unwrap();
        drop(first);
        assert_eq!(holds.held_by(&a), 1);
        let _third = holds.take(&a).unwrap();
        assert_eq!(holds.held_by(&a), 2);
    }

    #[test]
    fn counts_are_forgotten_once_a_caller_holds_nothing() {
        let holds = Holds::new(1);
        let a = Keypair::from_seed(&[3; 32]).did();
        drop(holds.take(&a).unwrap());
        assert_eq!(holds.held_by(&a), 0);
        assert!(holds.held.lock().unwrap().is_empty());
    }
}
