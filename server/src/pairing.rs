//! Pairing codes and the verification string both sides show.

use countersign_core::Did;
use sha2::{Digest, Sha256};

/// The canonical form of a pairing code as typed: uppercase, without separators, with
/// the letters people confuse (I, L → 1; O → 0) mapped as Crockford base32 does.
pub fn normalize_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| match c.to_ascii_uppercase() {
            'I' | 'L' => '1',
            'O' => '0',
            other => other,
        })
        .collect()
}

/// SHA-256 of the normalized code: what the service stores.
pub fn code_hash(code: &str) -> Vec<u8> {
    Sha256::digest(normalize_code(code).as_bytes()).to_vec()
}

/// Six digits derived from the code, the device's key and the service's key. The CLI
/// computes it from the device key the service reports, the device from its own key:
/// if another device claimed the code, the two strings differ.
pub fn verification_string(code: &str, device: &Did, service: &Did) -> String {
    let mut h = Sha256::new();
    h.update(b"countersign pairing v1\0");
    h.update(normalize_code(code).as_bytes());
    h.update(b"\0");
    h.update(device.to_string().as_bytes());
    h.update(b"\0");
    h.update(service.to_string().as_bytes());
    let d = h.finalize();
    let n = u32::from_be_bytes([d[0], d[1], d[2], d[3]]) % 1_000_000;
    format!("{:03} {:03}", n / 1000, n % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use countersign_core::Keypair;

    #[test]
    fn codes_normalize_as_typed() {
        assert_eq!(normalize_code("abcde-fghjk"), "ABCDEFGHJK");
        assert_eq!(normalize_code(" o1l0i "), "01101");
        assert_eq!(code_hash("ABCDE-FGHJK"), code_hash("abcdefghjk"));
    }

    #[test]
    fn verification_depends_on_every_input() {
        let d1 = Keypair::from_seed(&[1; 32]).did();
        let d2 = Keypair::from_seed(&[2; 32]).did();
        let s = Keypair::from_seed(&[3; 32]).did();
        let v = verification_string("ABCDE-FGHJK", &d1, &s);
        assert_eq!(v.len(), 7);
        assert_eq!(v, verification_string("abcde fghjk", &d1, &s));
        assert_ne!(v, verification_string("ABCDE-FGHJK", &d2, &s));
        assert_ne!(v, verification_string("ABCDE-FGHJX", &d1, &s));
        assert_ne!(v, verification_string("ABCDE-FGHJK", &d1, &d2));
    }
}
