//! Strict, canonical DAG-CBOR: the only encoding of a value that we emit or accept.
//!
//! A second encoding of the same token would have a different CID and could dodge
//! revocation by CID, so the decoder refuses everything that is not the single canonical
//! form: out-of-order or duplicate map keys, non-minimal lengths and integers, indefinite
//! lengths, floats other than finite 64-bit ones, tags other than 42 (links), non-string
//! map keys, invalid UTF-8, undefined and other simple values, and trailing bytes.

mod decode;
mod encode;

pub use decode::{CborError, MAX_DEPTH, decode};
pub use encode::{encode, encode_into};

#[cfg(test)]
mod tests;
