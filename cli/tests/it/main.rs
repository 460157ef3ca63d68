//! Integration tests of the `countersign` binary, in one test binary.

// A failed unwrap is a failed test, in helpers as in tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bench;
mod commands;
mod controls;
mod database;
mod faults;
mod gateway_flow;
mod hostile_api;
mod interop;
mod postgres;
mod replicas;
mod service;
#[path = "../../../gateway/tests/it/support/smtp.rs"]
mod smtp;
mod support;
