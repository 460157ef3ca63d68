//! Streams held open. A long-poll or an event stream keeps a connection busy for up to
//! minutes; each authenticated caller may hold at most `limits.max_streams_per_caller` of
//! them at once, and the public revocation stream, which needs no authentication, is
//! open to at most `limits.max_public_streams` connections in all.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
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

/// The count of open public streams, service-wide.
#[derive(Debug)]
pub struct PublicStreams {
    max: usize,
    open: Arc<AtomicUsize>,
}

/// One open public stream; the count goes down when it is dropped.
#[derive(Debug)]
pub struct PublicHold(Arc<AtomicUsize>);

impl PublicStreams {
    pub fn new(max: usize) -> Self {
        PublicStreams {
            max,
            open: Arc::default(),
        }
    }

    /// Counts one more public stream, or refuses with `503 too_many_streams`.
    pub fn take(&self) -> Result<PublicHold, ApiError> {
        let taken = self
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            });
        match taken {
            Ok(_) => Ok(PublicHold(self.open.clone())),
            Err(_) => Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "too_many_streams",
                format!(
                    "the service already serves {} revocation streams \
                     (limits.max_public_streams); read the paged feed, \
                     GET /v1/revocations?after=CURSOR, or try again later",
                    self.max
                ),
            )),
        }
    }

    /// How many are open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }
}

impl Drop for PublicHold {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
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
    fn public_streams_are_capped_service_wide() {
        let public = PublicStreams::new(2);
        let first = public.take().unwrap();
        let _second = public.take().unwrap();
        let refused = public.take().unwrap_err();
        assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refused.code, "too_many_streams");
        assert!(refused.message.contains("max_public_streams"));
        drop(first);
        assert_eq!(public.open(), 1);
        let _third = public.take().unwrap();
        assert_eq!(public.open(), 2);
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
