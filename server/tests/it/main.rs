//! Integration tests of countersign-server, in one test binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod contract;
mod controls;
mod interop;
mod operations;
mod store;
mod support;
