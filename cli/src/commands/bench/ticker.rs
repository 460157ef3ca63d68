//! Progress while a phase runs: a line on standard error every second with what is done
//! so far and how many errors there were; errors are counted, and the first few kept.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

/// Distinct error messages kept per phase, for the report.
const KEPT_ERRORS: usize = 5;

/// What a phase has done so far.
#[derive(Debug, Default)]
pub struct Counts {
    done: AtomicU64,
    errors: AtomicU64,
    kept: Mutex<Vec<String>>,
}

impl Counts {
    pub fn new() -> Arc<Counts> {
        Arc::new(Counts::default())
    }

    pub fn done(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }

    pub fn error(&self, err: &anyhow::Error) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let message = crate::one_line(err);
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() < KEPT_ERRORS && !kept.contains(&message) {
            kept.push(message);
        }
    }

    pub fn done_so_far(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// The first distinct error messages.
    pub fn messages(&self) -> Vec<String> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Prints progress every second until dropped.
#[derive(Debug)]
pub struct Ticker(JoinHandle<()>);

impl Ticker {
    /// `what` names the phase and `unit` what `counts` counts; `total`, if known, is
    /// shown as the goal.
    pub fn start(
        what: &str,
        unit: &'static str,
        total: Option<u64>,
        counts: Arc<Counts>,
    ) -> Ticker {
        let what = what.to_owned();
        let started = Instant::now();
        Ticker(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            loop {
                tick.tick().await;
                let done = counts.done_so_far();
                let goal = total.map_or(String::new(), |t| format!("/{t}"));
                eprintln!(
                    "bench: {what} {:>3}s: {done}{goal} {unit}, {} errors",
                    started.elapsed().as_secs(),
                    counts.errors()
                );
            }
        }))
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.0.abort();
    }
}
