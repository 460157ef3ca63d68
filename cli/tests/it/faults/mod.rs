//! The fault suite: the service killed with SIGKILL at random moments under load and
//! restarted, its PostgreSQL connections cut under load and refused for a while, and the
//! gateway killed between its upstream call and the receipt. Afterwards, everything that
//! was acknowledged must still hold.
//!
//! `COUNTERSIGN_FAULT_ROUNDS` sets how many faults each test injects (a few by default,
//! for CI); `COUNTERSIGN_FAULT_SEED` repeats a run's schedule: each test prints its seed.
//! The threads still interleave as they will, so a seed repeats the schedule, not the run.

mod checks;
mod clients;
mod database_outage;
mod gateway_kill;
mod hook;
mod load;
mod service_kill;

use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use checks::settle_and_check;
pub use clients::{Api, Cast, Decided, Ledger, decide};
pub use hook::Hook;
pub use load::{Load, load_settings};

use crate::support::{PATIENCE, POLL};

/// The command every load request asks for.
const CMD: &str = "/email/send";

/// The schedule's seed: `COUNTERSIGN_FAULT_SEED`, or a fresh one; printed either way.
pub fn seed(test: &str) -> u64 {
    let seed = std::env::var("COUNTERSIGN_FAULT_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .subsec_nanos();
            u64::from(nanos) ^ (u64::from(std::process::id()) << 32)
        });
    eprintln!("{test}: seed {seed} (COUNTERSIGN_FAULT_SEED={seed} repeats this schedule)");
    seed
}

/// Faults to inject: `COUNTERSIGN_FAULT_ROUNDS`, or `short` for the CI run.
pub fn rounds(short: usize) -> usize {
    std::env::var("COUNTERSIGN_FAULT_ROUNDS")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(short)
        .max(1)
}

/// A small xorshift64* generator: enough to pick moments and choices from a seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // splitmix64, so that neighbouring seeds start far apart (and never at zero).
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }

    pub fn millis(&mut self, low: u64, high: u64) -> Duration {
        Duration::from_millis(low + self.below(high - low + 1))
    }

    /// An independent generator for another thread.
    pub fn fork(&mut self) -> Rng {
        Rng::new(self.next())
    }
}

/// Whether the device approves request `id` (seven in ten) or denies it: the same answer
/// every time it is asked, so a decision retried after a fault is the same decision.
pub fn approves(seed: u64, id: &str) -> bool {
    let hash = id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    Rng::new(hash ^ seed).below(10) < 7
}

/// Calls until `attempt` succeeds; panics with its last complaint after [`PATIENCE`].
pub fn eventually<T>(what: &str, mut attempt: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match attempt() {
            Ok(done) => return done,
            Err(why) if Instant::now() > deadline => panic!("{what}: {why}"),
            Err(_) => thread::sleep(POLL * 4),
        }
    }
}

fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).unwrap();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
