//! The thread every write runs on.
//!
//! SQLite takes one write transaction at a time, and sqlx runs each connection on a
//! thread of its own: every statement of a transaction is a hand-off to that thread and
//! back. Were the transaction driven from the request handlers' runtime, each hand-back
//! would queue behind whatever those threads are busy with (signature checks of other
//! calls), and the write lock would be held all that time while every other writer
//! waits. Here a write is a task on a runtime of its own, on its own thread, which does
//! nothing else: the transaction runs from `BEGIN` to `COMMIT` without waiting for a
//! turn. A task is also never dropped half-way, so a caller that goes away cannot leave a
//! transaction open.

use std::future::Future;
use std::sync::Arc;

use tokio::runtime::Handle;
use tokio::sync::oneshot;

use crate::store::{Result, StoreError};

/// A handle on the writer thread; the thread ends when the last handle is dropped.
#[derive(Debug, Clone)]
pub(super) struct Writer {
    runtime: Handle,
    _stop: Arc<oneshot::Sender<()>>,
}

impl Writer {
    pub(super) fn start() -> Result<Writer> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Database(format!("cannot start the writer: {e}")))?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("countersign-sqlite-writer".into())
            .spawn(move || {
                let _ = runtime.block_on(stopped);
            })
            .map_err(|e| StoreError::Database(format!("cannot start the writer: {e}")))?;
        Ok(Writer {
            runtime: handle,
            _stop: Arc::new(stop),
        })
    }

    /// Runs `job` on the writer thread and waits for its result.
    pub(super) async fn run<T, F>(&self, job: F) -> Result<T>
    where
        F: Future<Output = Result<T>> + Send + 'static,
        T: Send + 'static,
    {
        self.runtime
            .spawn(job)
            .await
            .map_err(|e| StoreError::Database(format!("a write did not finish: {e}")))?
    }

    /// Starts a task on the writer thread that runs for as long as it likes.
    pub(super) fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        self.runtime.spawn(task);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_on_the_writer_thread_and_hand_back_their_results() {
        let writer = Writer::start().unwrap();
        let name = writer
            .run(async { Ok(std::thread::current().name().map(str::to_owned)) })
            .await
            .unwrap();
        assert_eq!(name.as_deref(), Some("countersign-sqlite-writer"));
        let failed: Result<()> = writer
            .run(async { Err(StoreError::Database("no".into())) })
            .await;
        assert!(matches!(failed, Err(StoreError::Database(m)) if m == "no"));
    }

    #[tokio::test]
    async fn a_job_whose_caller_goes_away_still_finishes() {
        let writer = Writer::start().unwrap();
        let (done, finished) = oneshot::channel();
        let (go, started) = oneshot::channel::<()>();
        let call = writer.run(async move {
            let _ = started.await;
            let _ = done.send(());
            Ok(())
        });
        // The caller polls once, then is dropped before the job ends.
        let _ = tokio::time::timeout(std::time::Duration::from_millis(1), call).await;
        go.send(()).unwrap();
        finished.await.unwrap();
    }
}
