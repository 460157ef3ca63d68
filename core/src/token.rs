//! What every signed token shares: its bytes, its CID, and the randomness that built it.

use crate::cid::Cid;

/// A signed token: its decoded form, its envelope bytes and its CID.
#[derive(Clone, Debug)]
pub struct Signed<T> {
    pub token: T,
    pub bytes: Vec<u8>,
    pub cid: Cid,
}

impl<T> Signed<T> {
    pub(crate) fn new(token: T, bytes: Vec<u8>) -> Self {
        let cid = Cid::dag_cbor(&bytes);
        Signed { token, bytes, cid }
    }
}

/// Length of the nonces our builders create, as the spec recommends.
pub const NONCE_LEN: usize = 12;

/// Where builders get nonces from. The core never gathers randomness itself:
/// callers pass the operating system's generator, tests pass a fixed sequence.
pub trait NonceSource {
    fn nonce(&mut self) -> [u8; NONCE_LEN];
}

impl<F: FnMut() -> [u8; NONCE_LEN]> NonceSource for F {
    fn nonce(&mut self) -> [u8; NONCE_LEN] {
        self()
    }
}
