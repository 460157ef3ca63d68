//! The machine's own bounds, measured in the same run: durable single-row inserts per
//! second in a bare SQLite loop (WAL, `synchronous = FULL`, one row per transaction, as
//! the service's database is set up), and Ed25519 `verify_strict` checks per second on
//! one core.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use countersign_core::Keypair;
use data_encoding::HEXLOWER;
use ed25519_dalek::{Signature, VerifyingKey};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection};

use crate::system;

/// The two rates, measured once.
#[derive(Debug, Clone, Copy)]
pub struct Baselines {
    pub inserts_per_sec: f64,
    pub verifies_per_sec: f64,
}

impl Baselines {
    /// Measures both, the inserts in a fresh database file under `dir`.
    pub async fn measure(
        dir: &Path,
        inserts: Duration,
        verifies: Duration,
    ) -> anyhow::Result<Self> {
        Ok(Baselines {
            inserts_per_sec: durable_inserts(dir, inserts).await?,
            verifies_per_sec: verify_strict(verifies)?,
        })
    }
}

/// The baselines measured several times in a run (before, between and after the
/// phases): a shared machine's disk in particular varies from one second to the next.
#[derive(Debug, Clone, Default)]
pub struct Series(pub Vec<Baselines>);

impl Series {
    /// The median of each rate: what the ratios are taken against.
    pub fn median(&self) -> Baselines {
        Baselines {
            inserts_per_sec: median(self.0.iter().map(|b| b.inserts_per_sec)),
            verifies_per_sec: median(self.0.iter().map(|b| b.verifies_per_sec)),
        }
    }

    pub fn min(&self) -> Baselines {
        self.fold(f64::min)
    }

    pub fn max(&self) -> Baselines {
        self.fold(f64::max)
    }

    fn fold(&self, f: impl Fn(f64, f64) -> f64) -> Baselines {
        let pick = |get: fn(&Baselines) -> f64| self.0.iter().map(get).reduce(&f).unwrap_or(0.0);
        Baselines {
            inserts_per_sec: pick(|b| b.inserts_per_sec),
            verifies_per_sec: pick(|b| b.verifies_per_sec),
        }
    }
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// Rows inserted per second for `duration`, each in its own committed transaction.
async fn durable_inserts(dir: &Path, duration: Duration) -> anyhow::Result<f64> {
    let path = dir.join(format!(
        "baseline-{}.db",
        HEXLOWER.encode(&system::random::<4>()?)
    ));
    let options = SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full);
    let mut db = options
        .connect()
        .await
        .with_context(|| format!("cannot create the baseline database {}", path.display()))?;
    sqlx::query(
        "CREATE TABLE rows (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, body BLOB NOT NULL)",
    )
    .execute(&mut db)
    .await
    .context("cannot create the baseline table")?;
    // A row about the size of a small audit entry.
    let body = vec![0x5a_u8; 200];
    let insert = |n: i64| {
        sqlx::query("INSERT INTO rows (at, body) VALUES (?, ?)")
            .bind(n)
            .bind(body.clone())
    };
    // Warm the file and the connection's statement cache.
    for n in 0..10 {
        insert(n)
            .execute(&mut db)
            .await
            .context("baseline insert")?;
    }
    let started = Instant::now();
    let mut done: i64 = 0;
    while started.elapsed() < duration {
        insert(done)
            .execute(&mut db)
            .await
            .context("baseline insert")?;
        done += 1;
    }
    let elapsed = started.elapsed().as_secs_f64();
    db.close().await.ok();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    Ok(done as f64 / elapsed)
}

/// Signature checks per second on this thread, with the key already decoded: what any
/// did:key verifier must do per signature.
fn verify_strict(duration: Duration) -> anyhow::Result<f64> {
    let key = Keypair::from_seed(&system::random::<32>()?);
    // About the size of a delegation's signed payload.
    let message = vec![0xa5_u8; 300];
    let signature = Signature::from_bytes(&key.sign(&message));
    let public = VerifyingKey::from_bytes(key.did().public_key_bytes())
        .context("a generated key does not decode")?;
    let started = Instant::now();
    let mut done: u64 = 0;
    while started.elapsed() < duration {
        // Batches, so that reading the clock costs nothing next to the checks.
        for _ in 0..64 {
            if public.verify_strict(&message, &signature).is_err() {
                bail!("verify_strict refused a valid signature");
            }
        }
        done += 64;
    }
    Ok(done as f64 / started.elapsed().as_secs_f64())
}
