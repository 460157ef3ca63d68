//! Countersign's token core: UCAN 1.0 delegations and invocations, the DAG-CBOR they are
//! encoded in, Ed25519 `did:key` principals, the policy language, chain validation and the
//! container format.
//!
//! The core is pure: no async, no I/O, no clock. Time, randomness and revocation lookups
//! come in as arguments, so every rule can be tested at any instant.

pub mod cbor;
pub mod cid;
pub mod command;
pub mod container;
pub mod delegation;
pub mod did;
pub mod envelope;
mod fields;
pub mod invocation;
pub mod json;
pub mod keys;
pub mod policy;
pub mod revocation;
pub mod sample;
pub mod token;
pub mod validate;
pub mod value;
mod varint;

pub use cid::Cid;
pub use command::Command;
pub use delegation::{Delegation, DelegationBuilder};
pub use did::Did;
pub use invocation::{Invocation, InvocationBuilder};
pub use keys::Keypair;
pub use token::{NonceSource, Signed};
pub use validate::{Context, ErrorKind, Limits, ProofSet, Validated, ValidationError, Validator};
pub use value::{Map, Value};
