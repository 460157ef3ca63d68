//! Offline verification of an exported log: the chain, the sequence, and the signed
//! checkpoints, naming the first entry that is wrong.

use countersign_core::Did;
use data_encoding::BASE64;
use serde::{Deserialize, Serialize};

use super::chain::{Checkpoint, Entry, GENESIS, checkpoint_message, entry_hash, hex};

/// The first line of an export.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    /// The service whose key signs the checkpoints.
    pub service: String,
    /// The export starts after this sequence number (0: from the beginning).
    pub since: i64,
}

pub const FORMAT: &str = "countersign-audit-v1";

/// One line of an export (JSON lines).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ExportLine {
    Header(Header),
    Entry(Entry),
    Checkpoint(Checkpoint),
}

/// What a successful verification covered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    pub entries: usize,
    pub checkpoints: usize,
    pub first_seq: Option<i64>,
    pub last_seq: Option<i64>,
    pub head: String,
    /// The highest entry a verified checkpoint covers, and that checkpoint's time.
    pub signed_through: i64,
    pub signed_at: Option<i64>,
    /// The service whose key signed the checkpoints.
    pub service: Did,
}

/// The first thing found wrong, with the line it is on (1-based).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {what}")]
pub struct Problem {
    pub line: usize,
    pub what: String,
}

fn problem<T>(line: usize, what: impl Into<String>) -> Result<T, Problem> {
    Err(Problem {
        line,
        what: what.into(),
    })
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Writes an export: a header line, then entries, each checkpoint after the entry it
/// covers. Checkpoints at or before `since` are omitted.
pub fn write_export(
    service: &Did,
    since: i64,
    entries: &[Entry],
    checkpoints: &[Checkpoint],
) -> String {
    let mut out = String::new();
    let mut push = |line: &ExportLine| {
        out.push_str(&serde_json::to_string(line).unwrap_or_default());
        out.push('\n');
    };
    push(&ExportLine::Header(Header {
        format: FORMAT.to_owned(),
        service: service.to_string(),
        since,
    }));
    let mut pending: Vec<&Checkpoint> = checkpoints.iter().filter(|c| c.count > since).collect();
    pending.sort_by_key(|c| c.count);
    let mut next = pending.into_iter().peekable();
    for e in entries {
        push(&ExportLine::Entry(e.clone()));
        while let Some(c) = next.next_if(|c| c.count <= e.seq) {
            push(&ExportLine::Checkpoint(c.clone()));
        }
    }
    for c in next {
        push(&ExportLine::Checkpoint(c.clone()));
    }
    out
}

/// Verifies an export read as text. `service` pins the key that must have signed the
/// checkpoints; without it, the header's service is trusted (and printed for the reader).
pub fn verify_export(text: &str, service: Option<&Did>) -> Result<Summary, Problem> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((_, first)) = lines.next() else {
        return problem(1, "the export is empty");
    };
    let header = match serde_json::from_str::<ExportLine>(first) {
        Ok(ExportLine::Header(h)) if h.format == FORMAT => h,
        _ => return problem(1, format!("the first line must be a {FORMAT} header")),
    };
    let header_service: Did = header
        .service
        .parse()
        .or_else(|e: countersign_core::did::DidError| problem(1, format!("service: {e}")))?;
    let signer = service.copied().unwrap_or(header_service);
    if signer != header_service {
        return problem(
            1,
            format!("the export is from {header_service}, not from {signer}"),
        );
    }

    let mut expected_seq = header.since + 1;
    let mut prev: Option<[u8; 32]> = (header.since == 0).then_some(GENESIS);
    // (seq, hash, line) of each entry.
    let mut hashes: Vec<(i64, String, usize)> = Vec::new();
    let mut checkpoints: Vec<(usize, Checkpoint)> = Vec::new();
    let mut summary = Summary {
        entries: 0,
        checkpoints: 0,
        first_seq: None,
        last_seq: None,
        head: hex(&GENESIS),
        signed_through: header.since,
        signed_at: None,
        service: signer,
    };
    for (i, line) in lines {
        let n = i + 1;
        match serde_json::from_str::<ExportLine>(line) {
            Ok(ExportLine::Entry(e)) => {
                if e.seq != expected_seq {
                    return problem(
                        n,
                        format!(
                            "entry {} where entry {expected_seq} was expected: an entry is missing or out of order",
                            e.seq
                        ),
                    );
                }
                let Some(entry_prev) = unhex(&e.prev) else {
                    return problem(n, format!("entry {}: malformed prev", e.seq));
                };
                if let Some(p) = prev {
                    if p != entry_prev {
                        return problem(
                            n,
                            format!(
                                "entry {}: does not follow the previous entry (an entry was removed, reordered or altered)",
                                e.seq
                            ),
                        );
                    }
                }
                let computed = entry_hash(
                    &entry_prev,
                    e.seq,
                    e.at,
                    &e.kind,
                    &e.actor,
                    &e.subject,
                    &e.data,
                );
                if hex(&computed) != e.hash {
                    return problem(
                        n,
                        format!(
                            "entry {}: its content does not match its hash (it was edited)",
                            e.seq
                        ),
                    );
                }
                prev = Some(computed);
                summary.first_seq.get_or_insert(e.seq);
                summary.last_seq = Some(e.seq);
                summary.head = e.hash.clone();
                summary.entries += 1;
                hashes.push((e.seq, e.hash, n));
                expected_seq += 1;
            }
            Ok(ExportLine::Checkpoint(c)) => checkpoints.push((n, c)),
            Ok(ExportLine::Header(_)) => return problem(n, "a second header"),
            Err(e) => return problem(n, format!("not an audit line: {e}")),
        }
    }
    for (n, c) in checkpoints {
        let valid = BASE64
            .decode(c.signature.as_bytes())
            .ok()
            .and_then(|s| <[u8; 64]>::try_from(s).ok())
            .is_some_and(|s| {
                signer.verifies(checkpoint_message(c.count, &c.head, c.at).as_bytes(), &s)
            });
        if !valid {
            return problem(
                n,
                format!(
                    "checkpoint at entry {}: not signed by the service {signer}",
                    c.count
                ),
            );
        }
        if c.count < header.since + 1 {
            continue;
        }
        match hashes.iter().find(|(seq, _, _)| *seq == c.count) {
            Some((_, h, _)) if *h == c.head => {}
            Some(_) => {
                return problem(
                    n,
                    format!(
                        "checkpoint at entry {}: the log does not match what the service signed (entries were altered)",
                        c.count
                    ),
                );
            }
            None => {
                return problem(
                    n,
                    format!(
                        "checkpoint at entry {}: the export ends at entry {} (entries were deleted)",
                        c.count,
                        summary.last_seq.unwrap_or(header.since)
                    ),
                );
            }
        }
        summary.checkpoints += 1;
        if c.count > summary.signed_through {
            summary.signed_through = c.count;
            summary.signed_at = Some(c.at);
        }
    }
    // Entries no checkpoint covers could have been appended by anyone (and the log cut
    // short together with its last checkpoint): only the service's signature tells.
    if let Some(last) = summary.last_seq {
        if summary.signed_through < last {
            let first = summary
                .first_seq
                .unwrap_or(1)
                .max(summary.signed_through + 1);
            let line = hashes
                .iter()
                .find(|(seq, _, _)| *seq == first)
                .map_or(1, |(_, _, l)| *l);
            let what = if first == last {
                format!("entry {first} is")
            } else {
                format!("entries {first} to {last} are")
            };
            return problem(
                line,
                format!(
                    "{what} not covered by a checkpoint the service signed (they may have been \
                     added, or later entries removed)"
                ),
            );
        }
    }
    Ok(summary)
}
