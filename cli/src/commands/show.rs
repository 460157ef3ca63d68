//! Small pieces the owner's commands share for printing: tables, dates, short DIDs and
//! JSON given on the command line.

use anyhow::Context;
use countersign_core::json as dag_json;
use countersign_core::policy::{Policy, PolicyLimits};
use serde_json::Value as Json;

use crate::output::{clean, date};

/// A DID short enough for a table: its method and the last characters of its key.
pub fn short_did(did: &str) -> String {
    match did.strip_prefix("did:key:") {
        Some(key) if key.chars().count() > 12 => {
            let tail: String = key.chars().skip(key.chars().count() - 8).collect();
            format!("did:key:…{tail}")
        }
        _ => did.to_owned(),
    }
}

/// `n` things, in the singular or the plural.
pub fn count(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A Unix time from the service as an RFC 3339 date.
pub fn at(unix: i64) -> String {
    u64::try_from(unix).map_or_else(|_| unix.to_string(), date)
}

/// Rows printed in aligned columns, two spaces apart, the last column unpadded.
#[derive(Debug)]
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table {
            rows: vec![header.iter().map(|h| (*h).to_owned()).collect()],
        }
    }

    /// Adds a row; its cells are cleaned of control characters.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells.iter().map(|c| clean(c)).collect());
    }

    pub fn print(&self) {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|i| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(i))
                    .map(|c| c.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for row in &self.rows {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                if i + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    let pad = widths[i].saturating_sub(cell.chars().count()) + 2;
                    line.push_str(cell);
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            println!("{}", line.trim_end());
        }
    }
}

/// A list of policy statements given as JSON in `flag`, checked and in canonical form.
pub fn policy_json(text: &str, flag: &str) -> anyhow::Result<Json> {
    let value = dag_json::parse(text).with_context(|| format!("{flag}: not valid JSON"))?;
    let policy =
        Policy::parse(&value, &PolicyLimits::default()).with_context(|| flag.to_owned())?;
    Ok(dag_json::to_json(&policy.to_value()))
}

/// Policy statements as one line of JSON (`[]` when there are none).
pub fn statements(policy: &Json) -> String {
    match policy {
        Json::Null => "[]".to_owned(),
        other => clean(&other.to_string()),
    }
}
