//! The service's VAPID key pair (RFC 8292, ECDSA P-256): made on first start, kept in the
//! data directory as a PKCS#8 PEM file readable by its owner only.

use std::path::Path;

use anyhow::Context;
use data_encoding::BASE64URL_NOPAD;
use p256::SecretKey;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use web_push::{PartialVapidSignatureBuilder, VapidSignatureBuilder};
use zeroize::Zeroizing;

use crate::setup;

/// The file name of the key in the data directory.
pub const FILE_NAME: &str = "vapid.pem";

/// A VAPID key pair. `Debug` shows the public key only.
#[derive(Clone)]
pub struct VapidKey {
    secret: SecretKey,
    /// The signer web-push builds from the same key.
    signer: PartialVapidSignatureBuilder,
}

impl std::fmt::Debug for VapidKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VapidKey")
            .field("public_key", &self.public_key_base64url())
            .finish_non_exhaustive()
    }
}

impl VapidKey {
    /// A new random key pair.
    pub fn generate() -> anyhow::Result<VapidKey> {
        loop {
            let mut bytes = Zeroizing::new([0u8; 32]);
            getrandom::getrandom(bytes.as_mut())
                .context("the operating system gave no randomness")?;
            // Fails only for zero or values past the group order: draw again.
            if let Ok(secret) = SecretKey::from_slice(bytes.as_ref()) {
                return Self::from_secret(secret);
            }
        }
    }

    /// Reads a PKCS#8 PEM P-256 private key.
    pub fn from_pkcs8_pem(pem: &str) -> anyhow::Result<VapidKey> {
        let secret = SecretKey::from_pkcs8_pem(pem)
            .map_err(|e| anyhow::anyhow!("not a PKCS#8 P-256 private key: {e}"))?;
        Self::from_secret(secret)
    }

    fn from_secret(secret: SecretKey) -> anyhow::Result<VapidKey> {
        let pem = Self::pem_of(&secret)?;
        let signer = VapidSignatureBuilder::from_pem_no_sub(pem.as_bytes())
            .map_err(|e| anyhow::anyhow!("the VAPID key is not usable: {e}"))?;
        Ok(VapidKey { secret, signer })
    }

    fn pem_of(secret: &SecretKey) -> anyhow::Result<Zeroizing<String>> {
        secret
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| anyhow::anyhow!("cannot encode the VAPID key: {e}"))
    }

    /// The private key as PKCS#8 PEM.
    pub fn to_pkcs8_pem(&self) -> anyhow::Result<Zeroizing<String>> {
        Self::pem_of(&self.secret)
    }

    /// The public key as an uncompressed point (65 bytes, `0x04 ‖ x ‖ y`).
    pub fn public_key(&self) -> Vec<u8> {
        use p256::elliptic_curve::sec1::ToEncodedPoint;
        self.secret
            .public_key()
            .to_encoded_point(false)
            .as_bytes()
            .to_vec()
    }

    /// The public key as the browser's `applicationServerKey` wants it: base64url, no padding.
    pub fn public_key_base64url(&self) -> String {
        BASE64URL_NOPAD.encode(&self.public_key())
    }

    pub(crate) fn signer(&self) -> PartialVapidSignatureBuilder {
        self.signer.clone()
    }

    /// Reads the key at `path`, or creates it (mode 0600, in a private directory) if the
    /// file does not exist. Returns the key and whether it was created.
    pub fn load_or_create(path: &Path) -> anyhow::Result<(VapidKey, bool)> {
        match std::fs::read_to_string(path) {
            Ok(pem) => {
                let key = Self::from_pkcs8_pem(&pem)
                    .with_context(|| format!("VAPID key file {}", path.display()))?;
                Ok((key, false))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent() {
                    setup::private_dir(dir)?;
                }
                let key = Self::generate()?;
                match setup::write_new_private(path, key.to_pkcs8_pem()?.as_bytes()) {
                    Ok(()) => Ok((key, true)),
                    // Another process created it first: use that one.
                    Err(_) if path.exists() => Self::load_or_create(path),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_agree_with_web_push() {
        let key = VapidKey::generate().unwrap();
        let pem = key.to_pkcs8_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let again = VapidKey::from_pkcs8_pem(&pem).unwrap();
        assert_eq!(again.public_key(), key.public_key());
        assert_eq!(key.public_key().len(), 65);
        assert_eq!(key.public_key()[0], 4);
        assert_eq!(key.signer().get_public_key(), key.public_key());
        assert!(!format!("{key:?}").contains("PRIVATE"));
    }

    #[test]
    fn the_key_file_is_created_once_and_private() {
        let dir = std::env::temp_dir().join(format!("cs-vapid-{}", std::process::id()));
        let path = dir.join("keys").join(FILE_NAME);
        let (created, fresh) = VapidKey::load_or_create(&path).unwrap();
        assert!(fresh);
        let (loaded, fresh) = VapidKey::load_or_create(&path).unwrap();
        assert!(!fresh);
        assert_eq!(loaded.public_key(), created.public_key());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "not a key").unwrap();
        assert!(VapidKey::load_or_create(&path).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
