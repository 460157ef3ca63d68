//! The UCAN container format (`ctn-v1`): several tokens bundled for transport as one
//! byte string or one line of text.
//!
//! A container is a header byte followed by the DAG-CBOR map `{"ctn-v1": [token, …]}`,
//! optionally gzipped, optionally base64-encoded; the header byte says which of the six
//! combinations follows (see [`Header`]). Token order carries no meaning, and a writer
//! should not repeat a token: [`Container::new`] drops repeats, keeping the first.
//!
//! CIDs are deliberately not part of the format, so a reader must hash every token
//! itself ([`Container::by_cid`]).

mod error;
mod header;
mod read;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::io::Write;

use data_encoding::{BASE64, BASE64URL_NOPAD};
use flate2::Compression;
use flate2::write::GzEncoder;

use crate::cbor;
use crate::cid::Cid;
use crate::value::{Map, Value};

pub use error::{ContainerError, ContainerLimits};
pub use header::{Encoding, Header};

/// The single key of the container's CBOR map.
pub const KEY: &str = "ctn-v1";

/// A set of token bytes (signed envelopes, DAG-CBOR encoded), in the order first given.
///
/// Two containers are equal when they hold the same tokens, in any order.
#[derive(Clone, Debug, Default)]
pub struct Container {
    tokens: Vec<Vec<u8>>,
}

impl Container {
    /// Bundles tokens; a token given twice is kept once, at its first place.
    pub fn new(tokens: impl IntoIterator<Item = Vec<u8>>) -> Self {
        let tokens: Vec<Vec<u8>> = tokens.into_iter().collect();
        let mut seen = HashSet::with_capacity(tokens.len());
        let keep: Vec<bool> = tokens.iter().map(|t| seen.insert(t.as_slice())).collect();
        let tokens = tokens
            .into_iter()
            .zip(keep)
            .filter_map(|(token, keep)| keep.then_some(token))
            .collect();
        Container { tokens }
    }

    /// The token bytes, without repeats.
    pub fn tokens(&self) -> &[Vec<u8>] {
        &self.tokens
    }

    pub fn into_tokens(self) -> Vec<Vec<u8>> {
        self.tokens
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Each token with the CID it hashes to (CIDv1, DAG-CBOR, SHA-256).
    pub fn by_cid(&self) -> impl Iterator<Item = (Cid, &[u8])> {
        self.tokens.iter().map(|t| (Cid::dag_cbor(t), t.as_slice()))
    }

    /// The token whose bytes hash to `cid`, if the container holds it.
    pub fn get(&self, cid: &Cid) -> Option<&[u8]> {
        self.tokens
            .iter()
            .find(|t| cid.names_dag_cbor_block(t))
            .map(Vec::as_slice)
    }

    /// The DAG-CBOR payload `{"ctn-v1": [token, …]}`, before compression and encoding.
    pub fn to_cbor(&self) -> Vec<u8> {
        let list = self.tokens.iter().cloned().map(Value::Bytes).collect();
        let map: Map = [(KEY, Value::List(list))].into_iter().collect();
        cbor::encode(&Value::Map(map))
    }

    /// The header byte followed by the payload, compressed and encoded as `header` says.
    /// For the text headers every byte is ASCII.
    pub fn to_bytes(&self, header: Header) -> Vec<u8> {
        let cbor = self.to_cbor();
        let body = if header.gzip { gzip(&cbor) } else { cbor };
        let mut out = vec![header.byte()];
        match header.encoding {
            Encoding::Raw => out.extend_from_slice(&body),
            Encoding::Base64 => out.extend_from_slice(BASE64.encode(&body).as_bytes()),
            Encoding::Base64Url => out.extend_from_slice(BASE64URL_NOPAD.encode(&body).as_bytes()),
        }
        out
    }

    /// The default text form: `B` then standard padded base64, uncompressed.
    pub fn to_text(&self) -> String {
        let mut text = String::from(char::from(Header::BASE64.byte()));
        BASE64.encode_append(&self.to_cbor(), &mut text);
        text
    }

    /// Reads any of the six variants, detecting the header; text variants may be
    /// surrounded by ASCII whitespace. Repeated tokens are accepted and kept once.
    pub fn parse(input: &[u8], limits: &ContainerLimits) -> Result<Container, ContainerError> {
        Container::parse_with_header(input, limits).map(|(container, _)| container)
    }

    /// As [`parse`](Container::parse), also telling which header the input carried.
    pub fn parse_with_header(
        input: &[u8],
        limits: &ContainerLimits,
    ) -> Result<(Container, Header), ContainerError> {
        let (header, tokens) = read::parse(input, limits)?;
        Ok((Container::new(tokens), header))
    }
}

impl PartialEq for Container {
    fn eq(&self, other: &Self) -> bool {
        // Both sides are free of repeats, so equal sizes and inclusion mean equal sets.
        self.tokens.len() == other.tokens.len() && {
            let theirs: HashSet<&[u8]> = other.tokens.iter().map(Vec::as_slice).collect();
            self.tokens.iter().all(|t| theirs.contains(t.as_slice()))
        }
    }
}

impl Eq for Container {}

impl FromIterator<Vec<u8>> for Container {
    fn from_iter<I: IntoIterator<Item = Vec<u8>>>(iter: I) -> Self {
        Container::new(iter)
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    match encoder.write_all(data).and_then(|()| encoder.finish()) {
        Ok(compressed) => compressed,
        // Writing into a Vec never fails, and deflating a whole in-memory buffer with
        // valid settings has no failure mode of its own.
        Err(e) => unreachable!("gzip into memory failed: {e}"),
    }
}
