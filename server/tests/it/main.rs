//! Integration tests of countersign-server, in one test binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod connections;
mod contract;
mod controls;
mod hostile;
mod interop;
mod notify;
mod notify_api;
mod notify_hooks;
mod notify_push;
mod notify_retry;
mod operations;
mod replicas;
mod store;
mod support;
mod web;
