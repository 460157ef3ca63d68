//! Ed25519 signing keys: generation from caller-supplied randomness, PKCS#8 PEM, signing.

use std::fmt;

use ed25519_dalek::pkcs8::{
    DecodePrivateKey, EncodePrivateKey, KeypairBytes, spki::der::pem::LineEnding,
};
use ed25519_dalek::{Signer, SigningKey};

use crate::did::Did;

/// A principal's private key. Its `Debug` output shows the DID only.
#[derive(Clone)]
pub struct Keypair {
    key: SigningKey,
    did: Did,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "not an Ed25519 private key in PKCS#8 PEM (\"-----BEGIN PRIVATE KEY-----\"); \
         create one with `countersign key generate` or `openssl genpkey -algorithm ed25519`"
    )]
    NotPkcs8Ed25519,
    #[error("could not encode the key as PKCS#8")]
    Encode,
}

impl Keypair {
    /// Builds a key from 32 bytes of secret randomness (the Ed25519 seed).
    pub fn from_seed(seed: &[u8; 32]) -> Keypair {
        let key = SigningKey::from_bytes(seed);
        let did = Did::from_public_key(&key.verifying_key());
        Keypair { key, did }
    }

    /// Reads a PKCS#8 PEM private key, as written by `openssl genpkey -algorithm ed25519`.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Keypair, KeyError> {
        let key = SigningKey::from_pkcs8_pem(pem.trim()).map_err(|_| KeyError::NotPkcs8Ed25519)?;
        let did = Did::from_public_key(&key.verifying_key());
        Ok(Keypair { key, did })
    }

    /// The PKCS#8 v1 PEM form of this key, byte for byte what OpenSSL writes.
    /// The returned string is wiped when dropped.
    pub fn to_pkcs8_pem(&self) -> Result<zeroize::Zeroizing<String>, KeyError> {
        let bytes = KeypairBytes {
            secret_key: self.key.to_bytes(),
            public_key: None,
        };
        bytes
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|_| KeyError::Encode)
    }

    /// The PKCS#8 v1 DER form of this key, wiped when dropped.
    pub fn to_pkcs8_der(&self) -> Result<zeroize::Zeroizing<Vec<u8>>, KeyError> {
        let bytes = KeypairBytes {
            secret_key: self.key.to_bytes(),
            public_key: None,
        };
        bytes
            .to_pkcs8_der()
            .map(|doc| zeroize::Zeroizing::new(doc.as_bytes().to_vec()))
            .map_err(|_| KeyError::Encode)
    }

    pub fn did(&self) -> Did {
        self.did
    }

    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keypair")
            .field("did", &self.did)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made with `openssl genpkey -algorithm ed25519`.
    const OPENSSL_PEM: &str = "-----BEGIN PRIVATE KEY-----\n\
        MC4CAQAwBQYDK2VwBCIEICB8/LcKuHj0b1+R8W6jdUYRdlaD0EJLiHhCdYSbmReq\n\
        -----END PRIVATE KEY-----\n";

    #[test]
    fn reads_openssl_keys_and_round_trips_pem() {
        let key = Keypair::from_pkcs8_pem(OPENSSL_PEM).expect("openssl key");
        let pem = key.to_pkcs8_pem().expect("encode");
        assert_eq!(pem.as_str(), OPENSSL_PEM);
        assert_eq!(
            Keypair::from_pkcs8_pem(&pem).expect("again").did(),
            key.did()
        );
        assert!(key.did().to_string().starts_with("did:key:z6Mk"));
    }

    #[test]
    fn debug_hides_the_secret() {
        let key = Keypair::from_seed(&[7; 32]);
        let shown = format!("{key:?}");
        assert!(shown.contains("did:key:z6Mk"));
        assert!(!shown.contains("seed") && !shown.contains("[7, 7"));
    }

    #[test]
    fn rejects_other_pem() {
        let rsa = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n";
        assert_eq!(
            Keypair::from_pkcs8_pem(rsa).err(),
            Some(KeyError::NotPkcs8Ed25519)
        );
        assert_eq!(
            Keypair::from_pkcs8_pem("").err(),
            Some(KeyError::NotPkcs8Ed25519)
        );
    }
}
