//! What every handler shares: configuration, keys, routes, the validator with its proof
//! cache, the revocation view, the store and the clock.

use std::collections::HashSet;
use std::sync::Arc;

use countersign_core::{Did, Keypair, Validator};
use countersign_server::clock::Clock;

use crate::check::Checks;
use crate::config::Config;
use crate::feed::RevocationView;
use crate::routes::Routes;
use crate::store::Store;

/// Shared, cheaply cloned state of a running gateway.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
pub struct Inner {
    pub config: Config,
    /// The gateway's own key: invocations are addressed to its DID; it signs receipts.
    pub key: Keypair,
    pub owners: HashSet<Did>,
    pub routes: Routes,
    /// One long-lived validator: proofs verified once are remembered by CID.
    pub validator: Validator,
    pub view: Arc<RevocationView>,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub metrics: crate::metrics::Metrics,
}

impl AppState {
    pub fn new(inner: Inner) -> AppState {
        AppState(Arc::new(inner))
    }

    pub fn did(&self) -> Did {
        self.key.did()
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The checks, as configured.
    pub fn checks(&self) -> Checks<'_> {
        Checks {
            validator: &self.validator,
            gateway: self.key.did(),
            owners: &self.owners,
            routes: &self.routes,
            max_lifetime: self.config.checks.max_lifetime.0,
        }
    }

    /// Whether the revocation view is too old to decide on.
    pub fn is_stale(&self) -> bool {
        self.view
            .is_stale(self.now(), self.config.checks.max_staleness.0)
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}
