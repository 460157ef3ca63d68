//! Integration tests of the gateway: real HTTP servers, SQLite, SMTP and the revocation
//! feed, all on loopback; time from a hand-set clock, never from sleeping.

// A test whose set-up fails should stop loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod connections;
mod email;
mod feed;
mod payments;
mod quorum;
mod receipts;
mod refusals;
mod store;
mod support;
