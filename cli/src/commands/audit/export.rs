//! `countersign audit export`: the log from the service, page by page, up to a checkpoint
//! it signs for the occasion, written as JSON lines.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use countersign_core::Did;
use countersign_server::audit::{Checkpoint, Entry, verify_export, write_export};
use data_encoding::HEXLOWER;
use serde::Deserialize;
use serde_json::json;

use crate::client::{self, Client, typed};
use crate::commands::show::count;
use crate::output::{Output, clean, print_json};
use crate::{keyfile, system};

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Export only the entries after this one (default 0: the whole log).
    #[arg(long, value_name = "SEQ", default_value_t = 0)]
    since: u32,
    /// Write to this file (created readable by its owner only) instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// The owner's key (default: the one `countersign init` created).
    #[arg(long)]
    key: Option<PathBuf>,
}

/// A page of `GET /v1/audit`.
#[derive(Debug, Deserialize)]
struct Page {
    service: String,
    entries: Vec<Entry>,
    checkpoints: Vec<Checkpoint>,
    next: i64,
}

/// What was exported.
#[derive(Debug)]
struct Exported {
    service: Did,
    text: String,
    entries: usize,
    checkpoints: usize,
    last: i64,
    head: String,
}

impl ExportArgs {
    pub fn run(self, output: Output, service: &str) -> anyhow::Result<ExitCode> {
        let key = keyfile::owner(self.key.as_deref())?;
        let since = i64::from(self.since);
        let exported = client::runtime()?.block_on(async {
            let client = Client::connect(service, key).await?;
            export(&client, since).await
        })?;
        // What was written must verify: if not, the service's log is damaged, which the
        // owner must hear about (the export is kept as evidence).
        let verdict = verify_export(&exported.text, Some(&exported.service));
        match &self.out {
            Some(path) => write_private(path, exported.text.as_bytes())?,
            None => {
                let mut stdout = std::io::stdout().lock();
                stdout
                    .write_all(exported.text.as_bytes())
                    .and_then(|()| stdout.flush())
                    .context("cannot write to standard output")?;
            }
        }
        if let Err(problem) = verdict {
            eprintln!("error: the service's log does not verify: {problem}");
            return Ok(ExitCode::from(1));
        }
        let range = if exported.entries == 0 {
            "no new entries".to_owned()
        } else {
            format!("entries {} to {}", since + 1, exported.last)
        };
        match (&self.out, output) {
            (Some(path), Output::Json) => print_json(&json!({
                "out": path.display().to_string(),
                "service": exported.service.to_string(),
                "since": since,
                "entries": exported.entries,
                "last_seq": exported.last,
                "checkpoints": exported.checkpoints,
                "head": exported.head,
            })),
            (Some(path), Output::Text) => {
                println!(
                    "exported {range} and {} to {}",
                    checkpoints(exported.checkpoints),
                    path.display()
                );
                println!("head: {}", clean(&exported.head));
                println!("service: {}", exported.service);
            }
            (None, Output::Text) => eprintln!(
                "exported {range} and {}; head {}",
                checkpoints(exported.checkpoints),
                clean(&exported.head)
            ),
            (None, Output::Json) => {}
        }
        Ok(ExitCode::SUCCESS)
    }
}

fn checkpoints(n: usize) -> String {
    count(
        u64::try_from(n).unwrap_or(u64::MAX),
        "checkpoint",
        "checkpoints",
    )
}

/// Asks for a fresh checkpoint, then reads every entry after `since` up to it.
async fn export(client: &Client, since: i64) -> anyhow::Result<Exported> {
    let fresh: Checkpoint = typed(client.post("/v1/audit/checkpoint", &json!({})).await?)
        .context("the checkpoint the service signed")?;
    if since > fresh.count {
        bail!("--since {since}: the log has only {} entries", fresh.count);
    }
    let mut entries: Vec<Entry> = Vec::new();
    let mut checkpoints: Vec<Checkpoint> = Vec::new();
    let mut after = since;
    while after < fresh.count {
        let page: Page = typed(client.get(&format!("/v1/audit?after={after}")).await?)?;
        if page.service != client.service.to_string() {
            bail!("the audit log names another service than the one answering");
        }
        let before = after;
        for entry in page.entries {
            if entry.seq > fresh.count {
                break;
            }
            if entry.seq != after + 1 {
                bail!(
                    "the service sent entry {} where entry {} was expected",
                    entry.seq,
                    after + 1
                );
            }
            after = entry.seq;
            entries.push(entry);
        }
        for c in page.checkpoints {
            if c.count > since && c.count <= fresh.count && !checkpoints.contains(&c) {
                checkpoints.push(c);
            }
        }
        // The pages stopped advancing: the service has nothing more to give.
        if after == before || page.next <= before {
            break;
        }
    }
    if after != fresh.count {
        bail!(
            "the service's log ended at entry {after}, before the checkpoint it signed at entry {}",
            fresh.count
        );
    }
    if fresh.count > since && !checkpoints.iter().any(|c| c.count == fresh.count) {
        checkpoints.push(fresh.clone());
    }
    checkpoints.sort_by_key(|c| c.count);
    let text = write_export(&client.service, since, &entries, &checkpoints);
    Ok(Exported {
        service: client.service,
        entries: entries.len(),
        checkpoints: checkpoints.len(),
        last: after,
        head: entries
            .last()
            .map_or_else(|| fresh.head.clone(), |e| e.hash.clone()),
        text,
    })
}

/// Writes `bytes` to `path` readable by its owner only: to a new file beside it, then
/// renamed over `path`, so a reader never sees half an export.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .with_context(|| format!("--out {}: not a file name", path.display()))?;
    let mut temp_name = name.to_os_string();
    temp_name.push(format!(".{}.tmp", HEXLOWER.encode(&system::random::<6>()?)));
    let temp = path.with_file_name(temp_name);
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options.open(&temp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    if let Err(e) = written.and_then(|()| std::fs::rename(&temp, path)) {
        let _ = std::fs::remove_file(&temp);
        return Err(e).with_context(|| format!("cannot write {}", path.display()));
    }
    Ok(())
}
