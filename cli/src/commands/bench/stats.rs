//! Latency samples and their percentiles.

use std::time::Duration;

/// Durations measured for one step.
#[derive(Debug, Default, Clone)]
pub struct Samples(Vec<Duration>);

/// Percentiles of a set of samples (nearest rank).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub n: usize,
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Samples {
    pub fn push(&mut self, d: Duration) {
        self.0.push(d);
    }

    /// `None` when there are no samples.
    pub fn summary(&self) -> Option<Summary> {
        if self.0.is_empty() {
            return None;
        }
        let mut sorted = self.0.clone();
        sorted.sort_unstable();
        Some(Summary {
            n: sorted.len(),
            p50: percentile(&sorted, 50),
            p90: percentile(&sorted, 90),
            p99: percentile(&sorted, 99),
            max: sorted[sorted.len() - 1],
        })
    }
}

/// The smallest sample that at least `p` percent of the samples do not exceed; `sorted`
/// is not empty.
fn percentile(sorted: &[Duration], p: usize) -> Duration {
    let rank = (sorted.len() * p).div_ceil(100).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn nearest_rank_percentiles() {
        let mut s = Samples::default();
        for n in (1..=100).rev() {
            s.push(ms(n));
        }
        let sum = s.summary().unwrap();
        assert_eq!(
            (sum.n, sum.p50, sum.p90, sum.p99, sum.max),
            (100, ms(50), ms(90), ms(99), ms(100))
        );
        let mut one = Samples::default();
        one.push(ms(7));
        let sum = one.summary().unwrap();
        assert_eq!((sum.p50, sum.p99, sum.max), (ms(7), ms(7), ms(7)));
        assert!(Samples::default().summary().is_none());
    }

    #[test]
    fn small_sets_round_up() {
        let mut s = Samples::default();
        for n in [5, 1, 3] {
            s.push(ms(n));
        }
        let sum = s.summary().unwrap();
        assert_eq!((sum.p50, sum.p90, sum.p99), (ms(3), ms(5), ms(5)));
    }
}
