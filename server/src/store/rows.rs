//! Row mapping shared by both backends: columns read by name and parsed back into the
//! model types, the text encodings both use for commands, JSON and numbers, and the
//! hash chaining of audit entries.

use countersign_core::{Cid, Command, Did};
use serde_json::Value as Json;

use crate::audit::{self, Checkpoint, Entry, GENESIS};
use crate::store::{
    Agent, AuditEvent, AutoApproval, Device, Pairing, PairingState, PartialApproval, QuorumRule,
    Request, RequestState, Result, RevokedEntry, StoreError, TokenRecord,
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

/// The `LIMIT` of a feed page (audit entries, revocations): 0 means 1000.
pub(in crate::store) fn feed_limit(limit: u32) -> i64 {
    match limit {
        0 => 1000,
        n => i64::from(n),
    }
}

/// A list of DIDs as stored: a JSON array of strings.
pub(in crate::store) fn dids_text(dids: &[Did]) -> String {
    Json::from(dids.iter().map(Did::to_string).collect::<Vec<_>>()).to_string()
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

pub(in crate::store) fn token(row: &impl Columns) -> Result<TokenRecord> {
    let revokers: Vec<String> =
        serde_json::from_str(&row.text("revokers")?).map_err(|_| corrupt("revokers"))?;
    Ok(TokenRecord {
        cid: row.text("cid")?,
        kind: row.text("kind")?,
        issuer: did(row, "issuer")?,
        audience: did(row, "audience")?,
        command: row.text("command")?,
        request_id: row.opt_text("request_id")?,
        agent_did: opt_did(row, "agent_did")?,
        issued_at: row.int("issued_at")?,
        expires_at: row.opt_int("expires_at")?,
        revokers: revokers
            .iter()
            .map(|text| text.parse().map_err(|_| corrupt("revokers")))
            .collect::<Result<_>>()?,
        revoked_at: row.opt_int("revoked_at")?,
        bytes: row.bytes("bytes")?,
    })
}

pub(in crate::store) fn revoked(row: &impl Columns) -> Result<RevokedEntry> {
    Ok(RevokedEntry {
        cursor: row.int("cursor")?,
        cid: row.text("cid")?,
        revoked_at: row.int("revoked_at")?,
        revoked_by: row.text("revoked_by")?,
        reason: row.text("reason")?,
        record: row.opt_text("record")?,
    })
}

pub(in crate::store) fn entry(row: &impl Columns) -> Result<Entry> {
    Ok(Entry {
        seq: row.int("seq")?,
        at: row.int("at")?,
        kind: row.text("kind")?,
        actor: row.text("actor")?,
        subject: row.text("subject")?,
        data: json(row, "data")?,
        prev: row.text("prev")?,
        hash: row.text("hash")?,
    })
}

pub(in crate::store) fn checkpoint(row: &impl Columns) -> Result<Checkpoint> {
    Ok(Checkpoint {
        count: row.int("count")?,
        head: row.text("head")?,
        at: row.int("at")?,
        signature: row.text("signature")?,
    })
}

pub(in crate::store) fn auto_approval(row: &impl Columns) -> Result<AutoApproval> {
    Ok(AutoApproval {
        cid: row.text("cid")?,
        command: row.text("command")?,
        bytes: row.bytes("bytes")?,
        created_at: row.int("created_at")?,
        expires_at: row.int("expires_at")?,
        removed_at: row.opt_int("removed_at")?,
    })
}

pub(in crate::store) fn quorum_rule(row: &impl Columns) -> Result<QuorumRule> {
    Ok(QuorumRule {
        id: row.text("id")?,
        command: row.text("command")?,
        when: json(row, "when")?,
        approvals: unsigned(row, "approvals")?,
        created_at: row.int("created_at")?,
    })
}

pub(in crate::store) fn partial_approval(row: &impl Columns) -> Result<PartialApproval> {
    Ok(PartialApproval {
        request_id: row.text("request_id")?,
        device: did(row, "device_did")?,
        envelope: row.bytes("envelope")?,
        standing: row.bytes("standing")?,
        at: row.int("at")?,
    })
}

/// The log's head as stored: the last entry's seq and hash, or `None` when it is empty.
pub(in crate::store) fn head(row: Option<&impl Columns>) -> Result<Option<(i64, [u8; 32])>> {
    let Some(row) = row else {
        return Ok(None);
    };
    let hash = unhex(&row.text("hash")?).ok_or_else(|| corrupt("audit hash"))?;
    Ok(Some((row.int("seq")?, hash)))
}

/// The entries that append `events` after `head`, each chained to the one before.
pub(in crate::store) fn chain(head: Option<(i64, [u8; 32])>, events: &[AuditEvent]) -> Vec<Entry> {
    let (mut seq, mut prev) = head.unwrap_or((0, GENESIS));
    events
        .iter()
        .map(|e| {
            seq += 1;
            let hash = audit::entry_hash(&prev, seq, e.at, &e.kind, &e.actor, &e.subject, &e.data);
            let entry = Entry {
                seq,
                at: e.at,
                kind: e.kind.clone(),
                actor: e.actor.clone(),
                subject: e.subject.clone(),
                data: e.data.clone(),
                prev: audit::hex(&prev),
                hash: audit::hex(&hash),
            };
            prev = hash;
            entry
        })
        .collect()
}

/// A feed entry for a CID the owner's action revoked (device removal, kill switch).
pub(in crate::store) fn owner_revocation(cid: String, at: i64, reason: &str) -> RevokedEntry {
    RevokedEntry {
        cursor: 0,
        cid,
        revoked_at: at,
        revoked_by: "owner".to_owned(),
        reason: reason.to_owned(),
        record: None,
    }
}

/// The `request.expired` entry of a request the service found expired.
pub(in crate::store) fn expired_event(id: &str, at: i64) -> AuditEvent {
    AuditEvent::new(
        at,
        audit::kind::REQUEST_EXPIRED,
        "service",
        id,
        Json::Object(Default::default()),
    )
}

fn unhex(text: &str) -> Option<[u8; 32]> {
    let text = text.as_bytes();
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        if !pair.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::unhex;
    use crate::audit::hex;

    #[test]
    fn hashes_round_trip_through_hex() {
        let bytes: [u8; 32] = std::array::from_fn(|i| (i * 37) as u8);
        assert_eq!(unhex(&hex(&bytes)), Some(bytes));
        assert_eq!(unhex("00"), None);
        assert_eq!(unhex(&"zz".repeat(32)), None);
        assert_eq!(unhex(&"+f".repeat(32)), None);
    }
}
