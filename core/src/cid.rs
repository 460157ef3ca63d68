//! Content identifiers (CIDv1) and the DAG-CBOR / SHA-256 CIDs that name UCAN tokens.

use std::fmt;
use std::str::FromStr;

use data_encoding::BASE32_NOPAD;
use sha2::{Digest, Sha256};

use crate::varint;

/// Multicodec code of DAG-CBOR.
pub const DAG_CBOR: u64 = 0x71;
/// Multicodec code of raw bytes.
pub const RAW: u64 = 0x55;
/// Multihash code of SHA-256.
pub const SHA2_256: u64 = 0x12;

/// A CIDv1 held as its binary form: version, codec and multihash.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cid {
    bytes: Box<[u8]>,
    codec: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidError {
    #[error("a CID string must start with 'b' (base32) or 'z' (base58btc), got {0:?}")]
    UnknownBase(char),
    #[error("the CID is empty")]
    Empty,
    #[error("the CID text is not valid {0}")]
    BadEncoding(&'static str),
    #[error("only CIDv1 is supported")]
    NotVersion1,
    #[error("the CID's binary form is malformed: {0}")]
    Malformed(&'static str),
}

impl Cid {
    /// The CID of a DAG-CBOR block: CIDv1, codec dag-cbor, SHA-256.
    pub fn dag_cbor(block: &[u8]) -> Cid {
        let digest = Sha256::digest(block);
        let mut bytes = Vec::with_capacity(36);
        bytes.extend_from_slice(&[0x01, 0x71, 0x12, 0x20]);
        bytes.extend_from_slice(&digest);
        Cid {
            bytes: bytes.into_boxed_slice(),
            codec: DAG_CBOR,
        }
    }

    /// Parses the binary form; every byte must belong to the CID.
    pub fn from_bytes(bytes: &[u8]) -> Result<Cid, CidError> {
        let (version, n) = varint::read(bytes).ok_or(CidError::Malformed("bad version varint"))?;
        if version != 1 {
            return Err(CidError::NotVersion1);
        }
        let rest = &bytes[n..];
        let (codec, n2) = varint::read(rest).ok_or(CidError::Malformed("bad codec varint"))?;
        let rest = &rest[n2..];
        let (_hash, n3) = varint::read(rest).ok_or(CidError::Malformed("bad multihash code"))?;
        let rest = &rest[n3..];
        let (len, n4) = varint::read(rest).ok_or(CidError::Malformed("bad digest length"))?;
        let rest = &rest[n4..];
        if u64::try_from(rest.len()).ok() != Some(len) {
            return Err(CidError::Malformed("digest length does not match"));
        }
        Ok(Cid {
            bytes: bytes.into(),
            codec,
        })
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn codec(&self) -> u64 {
        self.codec
    }

    /// Whether this CID names exactly `block` as DAG-CBOR under SHA-256.
    pub fn names_dag_cbor_block(&self, block: &[u8]) -> bool {
        *self == Cid::dag_cbor(block)
    }

    /// The base58btc form (`z…`), which the UCAN spec recommends.
    pub fn to_base58(&self) -> String {
        format!("z{}", bs58::encode(&self.bytes).into_string())
    }
}

impl fmt::Display for Cid {
    /// The conventional base32 form (`bafy…`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "b{}",
            BASE32_NOPAD.encode(&self.bytes).to_ascii_lowercase()
        )
    }
}

impl fmt::Debug for Cid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cid({self})")
    }
}

impl FromStr for Cid {
    type Err = CidError;

    fn from_str(s: &str) -> Result<Cid, CidError> {
        let mut chars = s.chars();
        let base = chars.next().ok_or(CidError::Empty)?;
        let body = chars.as_str();
        let bytes = match base {
            'b' => {
                if body.bytes().any(|c| c.is_ascii_uppercase()) {
                    return Err(CidError::BadEncoding("lowercase base32"));
                }
                BASE32_NOPAD
                    .decode(body.to_ascii_uppercase().as_bytes())
                    .map_err(|_| CidError::BadEncoding("base32"))?
            }
            'z' => bs58::decode(body)
                .into_vec()
                .map_err(|_| CidError::BadEncoding("base58btc"))?,
            other => return Err(CidError::UnknownBase(other)),
        };
        Cid::from_bytes(&bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_and_base58_parse_to_the_same_cid() {
        let cid = Cid::dag_cbor(b"hello");
        let b32 = cid.to_string();
        assert!(b32.starts_with("bafyrei"));
        let b58 = cid.to_base58();
        assert!(b58.starts_with("zdpu"));
        assert_eq!(b32.parse::<Cid>(), Ok(cid.clone()));
        assert_eq!(b58.parse::<Cid>(), Ok(cid));
    }

    #[test]
    fn rejects_bad_cids() {
        assert_eq!("".parse::<Cid>(), Err(CidError::Empty));
        assert_eq!("Qmfoo".parse::<Cid>(), Err(CidError::UnknownBase('Q')));
        assert!(Cid::from_bytes(&[0x01, 0x71, 0x12, 0x20, 0x00]).is_err());
        assert!(Cid::from_bytes(&[0x00, 0x71]).is_err());
    }
}
