//! Serving HTTP/1.1 on a public listener with the limits every endpoint of ours needs: a
//! deadline for the request head (a slow client cannot hold a connection open), a cap on
//! the connections served at once, and a graceful drain at shutdown. The service and the
//! gateway both serve through it.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;

/// How connections are bounded.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    /// How long a client has to send its request head, on a new connection and between
    /// requests of a kept-alive one.
    pub header_timeout: Duration,
    /// Connections served at once (`limits.max_connections`); beyond, new connections
    /// wait in the listen backlog until one ends.
    pub max_connections: usize,
    /// How long open connections get to finish once shutdown begins.
    pub drain: Duration,
}

/// The number of connections being served, for a gauge. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct OpenConnections(Arc<AtomicUsize>);

impl OpenConnections {
    pub fn count(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }

    /// One more connection, counted until the guard is dropped.
    pub fn open(&self) -> OpenConnection {
        self.0.fetch_add(1, Ordering::Relaxed);
        OpenConnection(self.0.clone())
    }
}

/// One connection counted in [`OpenConnections`] while it lives.
#[derive(Debug)]
pub struct OpenConnection(Arc<AtomicUsize>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// How often the "limit reached" warning may be logged.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// Serves `app` on `listener` until `shutdown` completes. Then it stops accepting, calls
/// `stopping` (so that long-polls can answer at once), and waits up to `limits.drain`
/// for the open connections to finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: ConnectionLimits,
    open: OpenConnections,
    shutdown: impl Future<Output = ()> + Send + 'static,
    stopping: impl FnOnce(),
) -> std::io::Result<()> {
    let service = hyper_util::service::TowerToHyperService::new(app);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let mut warned_full: Option<tokio::time::Instant> = None;
    tokio::pin!(shutdown);
    loop {
        // At the limit, stop accepting: further connections wait in the listen backlog
        // until one ends.
        if slots.available_permits() == 0 && warned_full.is_none_or(|at| at.elapsed() >= WARN_EVERY)
        {
            tracing::warn!(
                max = limits.max_connections,
                "the connection limit is reached (limits.max_connections): new connections \
                 wait until one ends"
            );
            warned_full = Some(tokio::time::Instant::now());
        }
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        // Out of file descriptors and the like: pause rather than spin.
                        tracing::warn!(error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                // Small answers and stream events go out at once, not after the peer's
                // delayed acknowledgement of the previous segment.
                let _ = stream.set_nodelay(true);
                let conn = http.serve_connection(hyper_util::rt::TokioIo::new(stream), service.clone());
                let conn = graceful.watch(conn);
                let counted = open.open();
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                    drop((slot, counted));
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    stopping();
    if tokio::time::timeout(limits.drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("some connections were still open when shutdown ended");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_connections_are_counted_while_their_guards_live() {
        let open = OpenConnections::default();
        let first = open.open();
        let second = open.clone().open();
        assert_eq!(open.count(), 2);
        drop(first);
        assert_eq!(open.count(), 1);
        drop(second);
        assert_eq!(open.count(), 0);
    }
}
