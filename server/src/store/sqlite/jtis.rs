//! SQLite: token ids used, recorded in batches. Every authenticated call records its
//! `jti` before it is served; one at a time, that is a commit (and an `fsync`) per call.
//! Calls that arrive while a batch is being committed wait for the next one, which takes
//! them all: one commit for as many ids as were waiting. A caller is answered only once
//! its id is durable, and of the same id twice, only the first is new.

use std::collections::HashSet;

use sqlx::{QueryBuilder, Sqlite, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use super::begin;
use super::writer::Writer;
use crate::store::{Result, StoreError, Timestamp};

/// Most ids in one transaction (three bound values each, well under SQLite's limit).
const MAX_BATCH: usize = 256;

#[derive(Debug)]
struct Use {
    issuer: String,
    jti: String,
    expires_at: Timestamp,
    fresh: oneshot::Sender<Result<bool>>,
}

/// A handle on the task that records ids; it stops when every handle is dropped.
#[derive(Debug, Clone)]
pub(super) struct Jtis(mpsc::UnboundedSender<Use>);

impl Jtis {
    /// Starts the recorder on the writer thread.
    pub(super) fn start(writer: &Writer, writes: SqlitePool) -> Jtis {
        let (tx, rx) = mpsc::unbounded_channel();
        writer.spawn(record(writes, rx));
        Jtis(tx)
    }

    /// Records `(issuer, jti)` as used: `true` if it was not used before.
    pub(super) async fn use_once(
        &self,
        issuer: String,
        jti: &str,
        expires_at: Timestamp,
    ) -> Result<bool> {
        let (fresh, answer) = oneshot::channel();
        let closed = || StoreError::Database("the token id recorder has stopped".into());
        self.0
            .send(Use {
                issuer,
                jti: jti.to_owned(),
                expires_at,
                fresh,
            })
            .map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }
}

async fn record(writes: SqlitePool, mut rx: mpsc::UnboundedReceiver<Use>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(more) => batch.push(more),
                Err(_) => break,
            }
        }
        match insert(&writes, &batch).await {
            Ok(fresh) => {
                for (used, new) in batch.drain(..).zip(fresh) {
                    let _ = used.fresh.send(Ok(new));
                }
            }
            Err(e) => {
                for used in batch.drain(..) {
                    let _ = used.fresh.send(Err(e.clone()));
                }
            }
        }
    }
}

/// Inserts the batch in one statement and one transaction; whether each id was new, in
/// order (of the same id twice in a batch, the first is new).
async fn insert(writes: &SqlitePool, batch: &[Use]) -> Result<Vec<bool>> {
    let mut tx = begin(writes).await?;
    let mut q = QueryBuilder::<Sqlite>::new("INSERT INTO used_jtis (issuer, jti, expires_at) ");
    q.push_values(batch, |mut row, used| {
        row.push_bind(&used.issuer)
            .push_bind(&used.jti)
            .push_bind(used.expires_at);
    });
    q.push(" ON CONFLICT (issuer, jti) DO NOTHING RETURNING issuer, jti");
    let mut inserted: HashSet<(String, String)> = q
        .build_query_as()
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
    tx.commit().await?;
    Ok(batch
        .iter()
        .map(|used| inserted.remove(&(used.issuer.clone(), used.jti.clone())))
        .collect())
}
