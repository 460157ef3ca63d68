//! Ed25519 `did:key` principals: parse, print, compare.

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::VerifyingKey;

/// Multicodec prefix of an Ed25519 public key (`0xed` as a varint).
const ED25519_PUB: [u8; 2] = [0xed, 0x01];
const PREFIX: &str = "did:key:z";

/// A principal named by an Ed25519 `did:key`.
///
/// Holds the 32 public-key bytes; the point is only decompressed when a signature is
/// checked, so parsing and comparing DIDs stays cheap.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Did([u8; 32]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DidError {
    #[error("{0:?} is not a did:key DID (expected \"did:key:z6Mk…\")")]
    NotDidKey(String),
    #[error("{0:?} is not valid base58btc")]
    BadBase58(String),
    #[error("{did:?} names a {kind} key; only Ed25519 keys (did:key:z6Mk…) are supported")]
    UnsupportedKeyType { did: String, kind: &'static str },
    #[error("{0:?} does not hold a 32-byte Ed25519 public key")]
    BadLength(String),
    #[error("{0:?} is not a valid Ed25519 public key")]
    InvalidKey(String),
}

impl Did {
    pub fn from_public_key(key: &VerifyingKey) -> Did {
        Did(key.to_bytes())
    }

    pub fn from_public_key_bytes(bytes: [u8; 32]) -> Did {
        Did(bytes)
    }

    pub fn public_key_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Whether the key is unusable as a principal: not a valid point, or of small order
    /// (which lets anyone forge signatures that a non-strict verifier accepts).
    pub fn is_weak(&self) -> bool {
        self.verifying_key().map_or(true, |k| k.is_weak())
    }

    /// Checks an Ed25519 signature by this principal with `verify_strict`.
    pub fn verifies(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        self.verifying_key().is_ok_and(|k| {
            k.verify_strict(message, &ed25519_dalek::Signature::from_bytes(signature))
                .is_ok()
        })
    }

    /// Decompresses the public key for a signature check.
    pub fn verifying_key(&self) -> Result<VerifyingKey, DidError> {
        VerifyingKey::from_bytes(&self.0).map_err(|_| DidError::InvalidKey(self.to_string()))
    }
}

impl FromStr for Did {
    type Err = DidError;

    fn from_str(s: &str) -> Result<Did, DidError> {
        let encoded = s
            .strip_prefix(PREFIX)
            .ok_or_else(|| DidError::NotDidKey(s.to_owned()))?;
        // An Ed25519 did:key is 48 base58 characters; bound the work for anything longer.
        if encoded.len() > 128 {
            return Err(DidError::BadLength(s.to_owned()));
        }
        let bytes = bs58::decode(encoded)
            .into_vec()
            .map_err(|_| DidError::BadBase58(s.to_owned()))?;
        match bytes.as_slice() {
            [0xed, 0x01, key @ ..] => key
                .try_into()
                .map(Did)
                .map_err(|_| DidError::BadLength(s.to_owned())),
            other => Err(DidError::UnsupportedKeyType {
                did: s.to_owned(),
                kind: key_kind(other),
            }),
        }
    }
}

fn key_kind(bytes: &[u8]) -> &'static str {
    match bytes {
        [0xe7, 0x01, ..] => "secp256k1",
        [0x80, 0x24, ..] => "P-256",
        [0x81, 0x24, ..] => "P-384",
        [0x85, 0x24, ..] => "RSA",
        [0xec, 0x01, ..] => "X25519",
        [0xeb, 0x01, ..] => "BLS12-381",
        _ => "unknown",
    }
}

impl fmt::Display for Did {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = [0u8; 34];
        raw[..2].copy_from_slice(&ED25519_PUB);
        raw[2..].copy_from_slice(&self.0);
        write!(f, "{PREFIX}{}", bs58::encode(raw).into_string())
    }
}

impl fmt::Debug for Did {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Did({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: &str = "did:key:z6MkmT9j6fVZqzXV8u2wVVSu49gYSRYGSQnduWXF6foAJrqz";

    #[test]
    fn parses_and_prints_ed25519() {
        let did: Did = ALICE.parse().expect("valid did");
        assert_eq!(did.to_string(), ALICE);
        assert!(did.verifying_key().is_ok());
        assert!(!did.is_weak());
        // The identity point has small order.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(Did::from_public_key_bytes(identity).is_weak());
    }

    #[test]
    fn rejects_other_methods_and_key_types() {
        assert!(matches!(
            "did:web:example.com".parse::<Did>(),
            Err(DidError::NotDidKey(_))
        ));
        // A P-256 did:key.
        let p256 = "did:key:zDnaerDaTF5BXEavCrfRZEk316dpbLsfPDZ3WJ5hRTPFU2169";
        assert!(matches!(
            p256.parse::<Did>(),
            Err(DidError::UnsupportedKeyType { kind: "P-256", .. })
        ));
        assert!(matches!(
            "did:key:z0OIl".parse::<Did>(),
            Err(DidError::BadBase58(_))
        ));
        let short = format!(
            "did:key:z{}",
            bs58::encode([0xed, 0x01, 9, 9, 9]).into_string()
        );
        assert!(matches!(short.parse::<Did>(), Err(DidError::BadLength(_))));
    }
}
