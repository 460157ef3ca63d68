//! UCAN revocation records: `{urv, iss, rvk, sig}`, where `sig` is the revoker's signature
//! over `REVOKE-UCAN:<cid>`, as the UCAN revocation spec defines them.

use data_encoding::BASE64_NOPAD;
use serde::{Deserialize, Serialize};

use crate::cid::Cid;
use crate::did::Did;
use crate::keys::Keypair;

/// The revocation spec version we write; we accept it and `1.0.0`.
pub const VERSION: &str = "1.0.0-rc.1";

/// A signed statement by `issuer` that the UCAN `revoked` must no longer be honoured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revocation {
    pub issuer: Did,
    pub revoked: Cid,
    signature: [u8; 64],
}

/// The JSON form, as gossiped between systems.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RevocationJson {
    pub urv: String,
    pub iss: String,
    pub rvk: String,
    pub sig: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RevocationError {
    #[error("unsupported revocation version {0:?}")]
    Version(String),
    #[error("iss: {0}")]
    Issuer(String),
    #[error("rvk: {0}")]
    Revoked(String),
    #[error("sig: not a base64 Ed25519 signature")]
    SignatureEncoding,
    #[error("the signature does not verify against the issuer's key")]
    BadSignature,
}

fn message(cid: &Cid) -> String {
    format!("REVOKE-UCAN:{cid}")
}

impl Revocation {
    pub fn sign(revoker: &Keypair, revoked: Cid) -> Revocation {
        let signature = revoker.sign(message(&revoked).as_bytes());
        Revocation {
            issuer: revoker.did(),
            revoked,
            signature,
        }
    }

    /// Parses the JSON form and checks its signature (strictly).
    pub fn verify(json: &RevocationJson) -> Result<Revocation, RevocationError> {
        if json.urv != VERSION && json.urv != "1.0.0" {
            return Err(RevocationError::Version(json.urv.clone()));
        }
        let issuer: Did = json
            .iss
            .parse()
            .map_err(|e: crate::did::DidError| RevocationError::Issuer(e.to_string()))?;
        let revoked: Cid = json
            .rvk
            .parse()
            .map_err(|e: crate::cid::CidError| RevocationError::Revoked(e.to_string()))?;
        let sig = BASE64_NOPAD
            .decode(json.sig.trim_end_matches('=').as_bytes())
            .map_err(|_| RevocationError::SignatureEncoding)?;
        let signature: [u8; 64] = sig
            .try_into()
            .map_err(|_| RevocationError::SignatureEncoding)?;
        // Checked against the canonical (base32) text of the CID, whichever base it came in.
        if !issuer.verifies(message(&revoked).as_bytes(), &signature) {
            return Err(RevocationError::BadSignature);
        }
        Ok(Revocation {
            issuer,
            revoked,
            signature,
        })
    }

    pub fn to_json(&self) -> RevocationJson {
        RevocationJson {
            urv: VERSION.to_owned(),
            iss: self.issuer.to_string(),
            rvk: self.revoked.to_string(),
            sig: BASE64_NOPAD.encode(&self.signature),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_revocation_round_trips_and_verifies() {
        let key = Keypair::from_seed(&[1; 32]);
        let cid = Cid::dag_cbor(b"token");
        let r = Revocation::sign(&key, cid.clone());
        let json = r.to_json();
        assert_eq!(json.urv, "1.0.0-rc.1");
        assert_eq!(Revocation::verify(&json), Ok(r));
        let text = serde_json::to_string(&json).unwrap();
        assert!(text.contains("\"rvk\":\"bafy"));
    }

    #[test]
    fn tampering_or_another_signer_fails() {
        let key = Keypair::from_seed(&[1; 32]);
        let mut json = Revocation::sign(&key, Cid::dag_cbor(b"a")).to_json();
        json.rvk = Cid::dag_cbor(b"b").to_string();
        assert_eq!(
            Revocation::verify(&json),
            Err(RevocationError::BadSignature)
        );
        let mut json = Revocation::sign(&key, Cid::dag_cbor(b"a")).to_json();
        json.iss = Keypair::from_seed(&[2; 32]).did().to_string();
        assert_eq!(
            Revocation::verify(&json),
            Err(RevocationError::BadSignature)
        );
        json.urv = "0.9".into();
        assert!(matches!(
            Revocation::verify(&json),
            Err(RevocationError::Version(_))
        ));
    }
}
