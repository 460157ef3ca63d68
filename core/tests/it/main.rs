//! Integration tests of countersign-core.

mod container;
mod fixtures;
mod policy_fixtures;
