//! Integration tests of countersign-core.

// Helpers outside #[test] functions may unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod container;
mod fixtures;
mod fuzz;
mod policy_fixtures;
mod properties;
mod vectors;
