//! What every handler shares: storage, keys, configuration, the clock and the waiters.

use std::sync::{Arc, OnceLock};

use countersign_core::{Did, Keypair};
use tokio::sync::watch;

use crate::clock::Clock;
use crate::config::Config;
use crate::error::ApiError;
use crate::holds::{Hold, Holds, PublicHold, PublicStreams};
use crate::metrics::Metrics;
use crate::notify::VapidKey;
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
    /// Bumped whenever this process commits a revocation or an audit entry: streams wait
    /// on these, then read the store (and re-check it periodically for other writers).
    pub revocation_feed: watch::Sender<u64>,
    pub audit_feed: watch::Sender<u64>,
    /// Set when the service begins to shut down: long-polls answer and streams end.
    pub stopping: watch::Sender<bool>,
    pub metrics: Metrics,
    /// Long-polls and event streams open per caller.
    pub holds: Holds,
    /// Public (unauthenticated) streams open, service-wide.
    pub public_streams: PublicStreams,
    /// The VAPID key Web Push messages are signed with, once `serve` has loaded it.
    vapid: OnceLock<VapidKey>,
}

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        service: Keypair,
        owner: Did,
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let holds = Holds::new(config.limits.max_streams_per_caller);
        let public_streams = PublicStreams::new(config.limits.max_public_streams);
        AppState(Arc::new(Inner {
            store,
            service,
            owner,
            config,
            clock,
            waiters: Waiters::default(),
            revocation_feed: watch::channel(0).0,
            audit_feed: watch::channel(0).0,
            stopping: watch::channel(false).0,
            metrics: Metrics::default(),
            holds,
            public_streams,
            vapid: OnceLock::new(),
        }))
    }

    /// Sets the VAPID key (once; a second key is ignored), enabling Web Push if `[push]`
    /// is configured.
    pub fn with_vapid_key(self, key: VapidKey) -> Self {
        let _ = self.0.vapid.set(key);
        self
    }

    pub fn vapid_key(&self) -> Option<&VapidKey> {
        self.0.vapid.get()
    }

    pub fn now(&self) -> i64 {
        self.0.clock.now()
    }

    pub fn service_did(&self) -> Did {
        self.0.service.did()
    }

    /// Counts a long-poll or event stream of `caller` until the hold is dropped, or
    /// refuses it (`429 too_many_streams`) when the caller holds its share already.
    pub fn hold(&self, caller: &Did) -> Result<Hold, ApiError> {
        self.0.holds.take(caller).inspect_err(|_| {
            self.0
                .metrics
                .inc("countersign_streams_refused_total", String::new());
        })
    }

    /// Counts a public stream until the hold is dropped, or refuses it (`503
    /// too_many_streams`) when `limits.max_public_streams` are open.
    pub fn hold_public(&self) -> Result<PublicHold, ApiError> {
        self.0.public_streams.take().inspect_err(|_| {
            self.0
                .metrics
                .inc("countersign_streams_refused_total", String::new());
        })
    }

    /// Begins shutting down: wakes every waiter and ends every stream.
    pub fn begin_shutdown(&self) {
        self.0.stopping.send_replace(true);
        self.0.waiters.wake_all();
        self.0.audit_feed.send_modify(|n| *n = n.wrapping_add(1));
        self.0
            .revocation_feed
            .send_modify(|n| *n = n.wrapping_add(1));
    }

    pub fn is_stopping(&self) -> bool {
        *self.0.stopping.borrow()
    }

    /// Tells streams that an audit entry (and, if `revoked`, a revocation) was committed.
    pub fn announce(&self, revoked: bool) {
        self.0.audit_feed.send_modify(|n| *n = n.wrapping_add(1));
        if revoked {
            self.0
                .revocation_feed
                .send_modify(|n| *n = n.wrapping_add(1));
        }
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}
