//! The service's operations that combine its rules, its store and its wake-ups; the HTTP
//! handlers stay thin by calling these.

pub mod approve;
pub mod checkpoint;
pub mod create;
pub mod revoke;

use countersign_core::{Cid, Delegation, Did};

use crate::store::TokenRecord;

/// The record of a token the service keeps, with who may revoke it.
pub(crate) fn token_record(
    kind: &str,
    bytes: &[u8],
    d: &Delegation,
    request_id: Option<&str>,
    agent: Option<Did>,
    at: i64,
    revokers: Vec<Did>,
) -> TokenRecord {
    TokenRecord {
        cid: Cid::dag_cbor(bytes).to_string(),
        kind: kind.to_owned(),
        issuer: d.issuer,
        audience: d.audience,
        command: d.command.to_string(),
        request_id: request_id.map(str::to_owned),
        agent_did: agent,
        issued_at: at,
        expires_at: d.expiration.and_then(|e| i64::try_from(e).ok()),
        revokers,
        revoked_at: None,
        bytes: bytes.to_vec(),
    }
}
