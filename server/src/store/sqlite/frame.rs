//! SQLite: token lists stored as one BLOB of length-prefixed frames.

use crate::store::{Result, StoreError};

/// A list of tokens as one BLOB: each token preceded by its length (u32, big-endian).
pub(super) fn frame(tokens: &[Vec<u8>]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(tokens.iter().map(|t| t.len() + 4).sum());
    for token in tokens {
        let len = u32::try_from(token.len())
            .map_err(|_| StoreError::Database("token too large to store".into()))?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(token);
    }
    Ok(out)
}

/// The tokens of a [`frame`]d BLOB; `None` if it is malformed.
pub(super) fn unframe(mut blob: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut tokens = Vec::new();
    while !blob.is_empty() {
        let (len, rest) = blob.split_first_chunk::<4>()?;
        let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
        if rest.len() < len {
            return None;
        }
        let (token, rest) = rest.split_at(len);
        tokens.push(token.to_vec());
        blob = rest;
    }
    Some(tokens)
}

#[cfg(test)]
mod tests {
    use super::{frame, unframe};

    #[test]
    fn token_frames_round_trip() {
        let tokens = vec![b"abc".to_vec(), Vec::new(), vec![7u8; 300]];
        let blob = frame(&tokens).unwrap();
        assert_eq!(unframe(&blob), Some(tokens));
        assert_eq!(unframe(&[]), Some(Vec::new()));
        assert_eq!(unframe(&blob[..blob.len() - 1]), None);
        assert_eq!(unframe(&[0, 0, 0]), None);
    }
}
