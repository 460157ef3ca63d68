//! What every handler shares: storage, keys, configuration, the clock and the waiters.

use std::sync::Arc;

use countersign_core::{Did, Keypair};

use crate::clock::Clock;
use crate::config::Config;
use crate::store::Store;
use crate::waiters::Waiters;

/// Shared, cheaply cloned state of a running service.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
pub struct Inner {
    pub store: Arc<dyn Store>,
    /// The service's own key: it signs what it issues.
    pub service: Keypair,
    /// The subject of every capability.
    pub owner: Did,
    pub config: Config,
    pub clock: Arc<dyn Clock>,
    pub waiters: Waiters,
}

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        service: Keypair,
        owner: Did,
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Self {
        AppState(Arc::new(Inner {
            store,
            service,
            owner,
            config,
            clock,
            waiters: Waiters::default(),
        }))
    }

    pub fn now(&self) -> i64 {
        self.0.clock.now()
    }

    pub fn service_did(&self) -> Did {
        self.0.service.did()
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}
