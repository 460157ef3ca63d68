//! Row mapping shared by both backends: columns read by name and parsed back into the
//! model types, and the text encodings both use for commands, JSON and numbers.

use countersign_core::{Cid, Command, Did};
use serde_json::Value as Json;

use crate::store::{
    Agent, Device, Pairing, PairingState, Request, RequestState, Result, StoreError,
};

/// Typed access to a row's columns by name, implemented for each backend's row type.
pub(in crate::store) trait Columns {
    fn text(&self, col: &str) -> Result<String>;
    fn opt_text(&self, col: &str) -> Result<Option<String>>;
    fn int(&self, col: &str) -> Result<i64>;
    fn opt_int(&self, col: &str) -> Result<Option<i64>>;
    fn bytes(&self, col: &str) -> Result<Vec<u8>>;
    fn opt_bytes(&self, col: &str) -> Result<Option<Vec<u8>>>;
    /// A list of tokens, in whatever form the backend stores it.
    fn tokens(&self, col: &str) -> Result<Vec<Vec<u8>>>;
}

/// The error for a stored value that does not parse (logged, never shown to clients).
pub(in crate::store) fn corrupt(what: &str) -> StoreError {
    StoreError::Database(format!("corrupt row: bad {what}"))
}

/// A count or lifetime as the signed 64-bit integer both backends store.
pub(in crate::store) fn int(value: impl TryInto<i64>) -> Result<i64> {
    value
        .try_into()
        .map_err(|_| StoreError::Database("value out of range for the database".into()))
}

/// A list of commands as stored: a JSON array of strings.
pub(in crate::store) fn allow_text(allow: &[Command]) -> String {
    Json::from(allow.iter().map(Command::as_str).collect::<Vec<_>>()).to_string()
}

pub(in crate::store) fn json_text(value: &Json) -> String {
    value.to_string()
}

/// The `LIMIT` of a listing: 0 means 100; at most 1000.
pub(in crate::store) fn list_limit(limit: u32) -> i64 {
    match limit {
        0 => 100,
        n => i64::from(n.min(1000)),
    }
}

/// The CIDs (text) of a device's standing delegations, as the revocation list keys them.
pub(in crate::store) fn token_cids(tokens: &[Vec<u8>]) -> Vec<String> {
    tokens
        .iter()
        .map(|bytes| Cid::dag_cbor(bytes).to_string())
        .collect()
}

fn did(row: &impl Columns, col: &str) -> Result<Did> {
    row.text(col)?.parse().map_err(|_| corrupt(col))
}

fn opt_did(row: &impl Columns, col: &str) -> Result<Option<Did>> {
    row.opt_text(col)?
        .map(|text| text.parse().map_err(|_| corrupt(col)))
        .transpose()
}

fn allow(row: &impl Columns, col: &str) -> Result<Vec<Command>> {
    let list: Vec<String> = serde_json::from_str(&row.text(col)?).map_err(|_| corrupt(col))?;
    list.iter()
        .map(|text| text.parse().map_err(|_| corrupt(col)))
        .collect()
}

fn json(row: &impl Columns, col: &str) -> Result<Json> {
    serde_json::from_str(&row.text(col)?).map_err(|_| corrupt(col))
}

fn opt_json(row: &impl Columns, col: &str) -> Result<Option<Json>> {
    row.opt_text(col)?
        .map(|text| serde_json::from_str(&text).map_err(|_| corrupt(col)))
        .transpose()
}

fn unsigned<T: TryFrom<i64>>(row: &impl Columns, col: &str) -> Result<T> {
    T::try_from(row.int(col)?).map_err(|_| corrupt(col))
}

pub(in crate::store) fn agent(row: &impl Columns) -> Result<Agent> {
    Ok(Agent {
        name: row.text("name")?,
        did: did(row, "did")?,
        allow: allow(row, "allow")?,
        max_pending: unsigned(row, "max_pending")?,
        rate_per_min: unsigned(row, "rate_per_min")?,
        created_at: row.int("created_at")?,
    })
}

pub(in crate::store) fn device(row: &impl Columns) -> Result<Device> {
    Ok(Device {
        id: row.text("id")?,
        name: row.text("name")?,
        did: did(row, "did")?,
        standing: row.tokens("standing")?,
        created_at: row.int("created_at")?,
        removed_at: row.opt_int("removed_at")?,
    })
}

pub(in crate::store) fn pairing(row: &impl Columns) -> Result<Pairing> {
    Ok(Pairing {
        id: row.text("id")?,
        code_hash: row.bytes("code_hash")?,
        name: row.opt_text("name")?,
        allow: allow(row, "allow")?,
        policy: json(row, "policy")?,
        device_lifetime: unsigned(row, "device_lifetime")?,
        created_at: row.int("created_at")?,
        expires_at: row.int("expires_at")?,
        state: PairingState::parse(&row.text("state")?).ok_or_else(|| corrupt("state"))?,
        device_did: opt_did(row, "device_did")?,
        device_name: row.opt_text("device_name")?,
        device_id: row.opt_text("device_id")?,
    })
}

pub(in crate::store) fn request_state(row: &impl Columns) -> Result<RequestState> {
    RequestState::parse(&row.text("state")?).ok_or_else(|| corrupt("state"))
}

pub(in crate::store) fn request(row: &impl Columns) -> Result<Request> {
    Ok(Request {
        id: row.text("id")?,
        agent_name: row.text("agent_name")?,
        agent_did: did(row, "agent_did")?,
        command: row
            .text("command")?
            .parse()
            .map_err(|_| corrupt("command"))?,
        subject: did(row, "subject")?,
        args: opt_json(row, "args")?,
        policy: json(row, "policy")?,
        summary: row.text("summary")?,
        reason: row.text("reason")?,
        diff: opt_json(row, "diff")?,
        lifetime: unsigned(row, "lifetime")?,
        code: row.text("code")?,
        created_at: row.int("created_at")?,
        expires_at: row.int("expires_at")?,
        state: request_state(row)?,
        decided_at: row.opt_int("decided_at")?,
        decided_by: opt_did(row, "decided_by")?,
        denial_reason: row.opt_text("denial_reason")?,
        evidence: row.opt_bytes("evidence")?,
        chain: row.tokens("chain")?,
    })
}
