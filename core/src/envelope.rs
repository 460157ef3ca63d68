//! The signed envelope `[signature, {"h": varsig header, "ucan/<kind>@<version>": payload}]`.

use std::fmt;

use crate::cbor;
use crate::did::Did;
use crate::keys::Keypair;
use crate::value::{Map, Value};

/// Varsig v1 header for Ed25519 over SHA-512 of a DAG-CBOR payload.
pub const VARSIG_ED25519_DAG_CBOR: [u8; 8] = [0x34, 0x01, 0xed, 0x01, 0xed, 0x01, 0x13, 0x71];

/// Bytes before the signed payload: array(2), bytes(64) header, then the signature.
const SIGNED_OFFSET: usize = 3 + 64;

/// Which kind of UCAN an envelope carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    Delegation,
    Invocation,
}

impl TokenKind {
    /// The tag we emit.
    pub fn tag(self) -> &'static str {
        match self {
            TokenKind::Delegation => "ucan/dlg@1.0.0",
            TokenKind::Invocation => "ucan/inv@1.0.0",
        }
    }

    /// Recognises the tags we accept: `@1.0.0` and the `@1.0.0-rc.1` that other
    /// implementations still emit.
    fn from_tag(tag: &str) -> Option<TokenKind> {
        match tag {
            "ucan/dlg@1.0.0" | "ucan/dlg@1.0.0-rc.1" => Some(TokenKind::Delegation),
            "ucan/inv@1.0.0" | "ucan/inv@1.0.0-rc.1" => Some(TokenKind::Invocation),
            _ => None,
        }
    }
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TokenKind::Delegation => "delegation",
            TokenKind::Invocation => "invocation",
        })
    }
}

/// Why bytes are not a well-formed envelope, or its signature does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error(transparent)]
    Cbor(#[from] cbor::CborError),
    #[error("not a UCAN envelope: {0}")]
    Shape(&'static str),
    #[error(
        "unsupported signature type: only Ed25519 over DAG-CBOR (varsig 34 01 ed01 ed01 13 71) is accepted"
    )]
    UnsupportedVarsig,
    #[error("unknown token type tag {0:?} (expected ucan/dlg@1.0.0 or ucan/inv@1.0.0)")]
    UnknownTag(String),
    #[error("the signature is not 64 bytes")]
    SignatureLength,
    #[error("the issuer's public key is not a valid Ed25519 point")]
    BadIssuerKey,
    #[error("the signature does not verify against the issuer's key")]
    BadSignature,
}

/// A decoded envelope whose signature has not been checked yet.
#[derive(Debug)]
pub struct Envelope<'a> {
    pub kind: TokenKind,
    pub payload: Map,
    signature: [u8; 64],
    signed: &'a [u8],
}

impl<'a> Envelope<'a> {
    /// Decodes strictly canonical envelope bytes.
    pub fn open(bytes: &'a [u8]) -> Result<Envelope<'a>, EnvelopeError> {
        let Value::List(mut outer) = cbor::decode(bytes)? else {
            return Err(EnvelopeError::Shape(
                "expected a list of [signature, payload]",
            ));
        };
        if outer.len() != 2 {
            return Err(EnvelopeError::Shape(
                "expected exactly [signature, payload]",
            ));
        }
        let Some(Value::Map(mut sig_payload)) = outer.pop() else {
            return Err(EnvelopeError::Shape("the second element must be a map"));
        };
        let Some(Value::Bytes(sig)) = outer.pop() else {
            return Err(EnvelopeError::Shape("the signature must be bytes"));
        };
        let signature: [u8; 64] = sig
            .as_slice()
            .try_into()
            .map_err(|_| EnvelopeError::SignatureLength)?;
        if sig_payload.len() != 2 {
            return Err(EnvelopeError::Shape(
                "the signed payload must hold exactly \"h\" and one type tag",
            ));
        }
        match sig_payload.remove("h") {
            Some(Value::Bytes(h)) if h == VARSIG_ED25519_DAG_CBOR => {}
            Some(Value::Bytes(_)) => return Err(EnvelopeError::UnsupportedVarsig),
            _ => return Err(EnvelopeError::Shape("missing varsig header \"h\"")),
        }
        let Some(tag) = sig_payload.iter().next().map(|(tag, _)| tag.to_owned()) else {
            return Err(EnvelopeError::Shape("missing the token payload"));
        };
        let kind = TokenKind::from_tag(&tag).ok_or(EnvelopeError::UnknownTag(tag.clone()))?;
        let Some(Value::Map(payload)) = sig_payload.remove(&tag) else {
            return Err(EnvelopeError::Shape("the token payload must be a map"));
        };
        // The decoder is canonical, so a 64-byte signature always occupies bytes 0..67.
        let signed = bytes
            .get(SIGNED_OFFSET..)
            .ok_or(EnvelopeError::Shape("truncated"))?;
        Ok(Envelope {
            kind,
            payload,
            signature,
            signed,
        })
    }

    /// Checks the signature with `verify_strict` against the issuer's key.
    pub fn verify(&self, issuer: &Did) -> Result<(), EnvelopeError> {
        let key = issuer
            .verifying_key()
            .map_err(|_| EnvelopeError::BadIssuerKey)?;
        let signature = ed25519_dalek::Signature::from_bytes(&self.signature);
        key.verify_strict(self.signed, &signature)
            .map_err(|_| EnvelopeError::BadSignature)
    }

    pub fn signature(&self) -> &[u8; 64] {
        &self.signature
    }
}

/// Encodes and signs a payload into envelope bytes.
pub fn seal(kind: TokenKind, payload: Map, key: &Keypair) -> Vec<u8> {
    let mut sig_payload = Map::new();
    sig_payload.insert("h", Value::Bytes(VARSIG_ED25519_DAG_CBOR.to_vec()));
    sig_payload.insert(kind.tag(), Value::Map(payload));
    let signed = cbor::encode(&Value::Map(sig_payload));
    let signature = key.sign(&signed);
    let mut out = Vec::with_capacity(SIGNED_OFFSET + signed.len());
    out.extend_from_slice(&[0x82, 0x58, 0x40]);
    out.extend_from_slice(&signature);
    out.extend_from_slice(&signed);
    out
}
