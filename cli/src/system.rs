//! The only places the CLI reads the clock and the operating system's randomness.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use countersign_core::token::NONCE_LEN;

/// Unix time in seconds.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub fn random<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut buf = [0u8; N];
    getrandom::getrandom(&mut buf).context("the operating system gave no randomness")?;
    Ok(buf)
}

/// A nonce source backed by the operating system.
pub fn nonces() -> anyhow::Result<impl FnMut() -> [u8; NONCE_LEN]> {
    // Draw enough for any one command up front, so the closure itself cannot fail.
    let pool: [u8; NONCE_LEN * 8] = random()?;
    let mut next = 0;
    Ok(move || {
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&pool[next..next + NONCE_LEN]);
        next = (next + NONCE_LEN) % pool.len();
        nonce
    })
}
