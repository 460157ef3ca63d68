//! Random identifiers and codes, from the operating system's generator.

use countersign_core::token::NONCE_LEN;
use data_encoding::BASE32_NOPAD;

fn random<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // The OS generator does not fail on supported platforms; if it ever did, refusing to
    // run beats issuing predictable ids, so this is one of the few deliberate panics.
    #[allow(clippy::expect_used)]
    getrandom::getrandom(&mut buf).expect("the operating system's random generator failed");
    buf
}

/// An opaque id with a readable prefix, e.g. `req_k5x2…` (80 random bits).
pub fn new_id(prefix: &str) -> String {
    format!(
        "{prefix}_{}",
        BASE32_NOPAD.encode(&random::<10>()).to_ascii_lowercase()
    )
}

/// A two-digit code, 10 to 99, for number matching.
pub fn match_code() -> String {
    let [b] = random::<1>();
    format!("{}", 10 + u32::from(b) % 90)
}

/// A nonce source for tokens the service signs.
pub fn nonces() -> impl FnMut() -> [u8; NONCE_LEN] {
    random::<NONCE_LEN>
}

/// A one-time pairing code: 10 characters of Crockford base32 (50 bits), grouped `XXXXX-XXXXX`.
pub fn pairing_code() -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let bytes = random::<10>();
    let chars: String = bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(b & 31)]))
        .collect();
    format!("{}-{}", &chars[..5], &chars[5..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_codes_have_their_shapes() {
        let id = new_id("req");
        assert!(id.starts_with("req_") && id.len() == 4 + 16, "{id}");
        assert_ne!(new_id("req"), new_id("req"));
        let code: u32 = match_code().parse().unwrap();
        assert!((10..100).contains(&code));
        let p = pairing_code();
        assert_eq!(p.len(), 11);
        assert_eq!(&p[5..6], "-");
    }
}
