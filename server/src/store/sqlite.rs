//! The SQLite backend: one database file in WAL mode with `synchronous = FULL`, its
//! migrations (`migrations/sqlite`) applied on connect.

mod devices;
mod requests;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use countersign_core::Did;
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};

use super::rows::{self, Columns};
use super::{
    Agent, Approval, CreateLimits, Denial, Device, Pairing, Request, RequestFilter, Result, Store,
    StoreError, Timestamp,
};

/// Connections in the pool of a database file (writes are serialized by SQLite anyway).
const POOL_SIZE: u32 = 4;
/// How long a statement waits for another connection's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The store in an SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database a `sqlite:PATH` URL names and migrates it.
    pub async fn connect(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        // An in-memory database lives as long as a connection to it: keep exactly one.
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let pool = if in_memory {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            SqlitePoolOptions::new().max_connections(POOL_SIZE)
        }
        .connect_with(options)
        .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(SqliteStore { pool })
    }
}

impl Columns for SqliteRow {
    fn text(&self, col: &str) -> Result<String> {
        Ok(self.try_get(col)?)
    }
    fn opt_text(&self, col: &str) -> Result<Option<String>> {
        Ok(self.try_get(col)?)
    }
    fn int(&self, col: &str) -> Result<i64> {
        Ok(self.try_get(col)?)
    }
    fn opt_int(&self, col: &str) -> Result<Option<i64>> {
        Ok(self.try_get(col)?)
    }
    fn bytes(&self, col: &str) -> Result<Vec<u8>> {
        Ok(self.try_get(col)?)
    }
    fn opt_bytes(&self, col: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.try_get(col)?)
    }
    fn tokens(&self, col: &str) -> Result<Vec<Vec<u8>>> {
        unframe(&self.bytes(col)?).ok_or_else(|| rows::corrupt(col))
    }
}

/// A list of tokens as one BLOB: each token preceded by its length (u32, big-endian).
fn frame(tokens: &[Vec<u8>]) -> Result<Vec<u8>> {
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
fn unframe(mut blob: &[u8]) -> Option<Vec<Vec<u8>>> {
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

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn add_agent(&self, agent: &Agent) -> Result<()> {
        sqlx::query(
            "INSERT INTO agents (name, did, allow, max_pending, rate_per_min, created_at)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&agent.name)
        .bind(agent.did.to_string())
        .bind(rows::allow_text(&agent.allow))
        .bind(i64::from(agent.max_pending))
        .bind(i64::from(agent.rate_per_min))
        .bind(agent.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn list_agents(&self) -> Result<Vec<Agent>> {
        let found = sqlx::query("SELECT * FROM agents ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        found.iter().map(rows::agent).collect()
    }

    async fn agent_by_did(&self, did: &Did) -> Result<Option<Agent>> {
        let found = sqlx::query("SELECT * FROM agents WHERE did = ?")
            .bind(did.to_string())
            .fetch_optional(&self.pool)
            .await?;
        found.as_ref().map(rows::agent).transpose()
    }

    async fn remove_agent(&self, name: &str) -> Result<()> {
        let done = sqlx::query("DELETE FROM agents WHERE name = ?")
            .bind(name)
            .execute(&self.pool)
            .await?;
        match done.rows_affected() {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }

    async fn create_pairing(&self, pairing: &Pairing) -> Result<()> {
        devices::create_pairing(&self.pool, pairing).await
    }

    async fn pairing(&self, id: &str) -> Result<Option<Pairing>> {
        let found = sqlx::query("SELECT * FROM pairings WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        found.as_ref().map(rows::pairing).transpose()
    }

    async fn claim_pairing(
        &self,
        code_hash: &[u8],
        device: &Did,
        name: &str,
        now: Timestamp,
    ) -> Result<Pairing> {
        devices::claim_pairing(&self.pool, code_hash, device, name, now).await
    }

    async fn confirm_pairing(&self, id: &str, device: &Device) -> Result<()> {
        devices::confirm_pairing(&self.pool, id, device).await
    }

    async fn list_devices(&self) -> Result<Vec<Device>> {
        let found = sqlx::query("SELECT * FROM devices ORDER BY created_at, id")
            .fetch_all(&self.pool)
            .await?;
        found.iter().map(rows::device).collect()
    }

    async fn device_by_did(&self, did: &Did) -> Result<Option<Device>> {
        let found = sqlx::query("SELECT * FROM devices WHERE did = ? AND removed_at IS NULL")
            .bind(did.to_string())
            .fetch_optional(&self.pool)
            .await?;
        found.as_ref().map(rows::device).transpose()
    }

    async fn remove_device(&self, id: &str, now: Timestamp) -> Result<Device> {
        devices::remove_device(&self.pool, id, now).await
    }

    async fn create_request(&self, request: &Request, limits: CreateLimits) -> Result<()> {
        requests::create(&self.pool, request, limits).await
    }

    async fn request(&self, id: &str) -> Result<Option<Request>> {
        requests::get(&self.pool, id).await
    }

    async fn list_requests(&self, filter: &RequestFilter) -> Result<Vec<Request>> {
        requests::list(&self.pool, filter).await
    }

    async fn approve(&self, id: &str, approval: &Approval) -> Result<Request> {
        requests::approve(&self.pool, id, approval).await
    }

    async fn deny(&self, id: &str, denial: &Denial) -> Result<Request> {
        requests::deny(&self.pool, id, denial).await
    }

    async fn withdraw(&self, id: &str, agent: &Did, now: Timestamp) -> Result<Request> {
        requests::withdraw(&self.pool, id, agent, now).await
    }

    async fn expire_due(&self, now: Timestamp) -> Result<Vec<String>> {
        let ids = sqlx::query(
            "UPDATE requests SET state = 'expired', decided_at = ?1
             WHERE state = 'pending' AND expires_at <= ?1 RETURNING id",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        ids.iter().map(|row| row.text("id")).collect()
    }

    async fn is_revoked(&self, cid: &str) -> Result<bool> {
        let found = sqlx::query("SELECT 1 FROM revocations WHERE cid = ?")
            .bind(cid)
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }

    async fn use_jti(&self, issuer: &Did, jti: &str, expires_at: Timestamp) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO used_jtis (issuer, jti, expires_at) VALUES (?, ?, ?)
             ON CONFLICT (issuer, jti) DO NOTHING",
        )
        .bind(issuer.to_string())
        .bind(jti)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn prune_jtis(&self, now: Timestamp) -> Result<u64> {
        let done = sqlx::query("DELETE FROM used_jtis WHERE expires_at < ?")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use sqlx::Row;

    use super::{SqliteStore, frame, unframe};
    use crate::store::Store;

    #[tokio::test]
    async fn connections_are_durable_and_checked() {
        let dir = std::env::temp_dir().join(format!("cs_sqlite_pragmas_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite:{}", dir.join("new.db").display());
        let store = SqliteStore::connect(&url).await.unwrap();
        let journal: String = sqlx::query("PRAGMA journal_mode")
            .fetch_one(&store.pool)
            .await
            .unwrap()
            .get(0);
        assert_eq!(journal, "wal");
        for (pragma, expected) in [("synchronous", 2), ("foreign_keys", 1)] {
            let value: i64 = sqlx::query(&format!("PRAGMA {pragma}"))
                .fetch_one(&store.pool)
                .await
                .unwrap()
                .get(0);
            assert_eq!(value, expected, "{pragma}"); // synchronous 2 = FULL
        }
        drop(store);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn in_memory_databases_keep_their_schema() {
        let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
        store.ping().await.unwrap();
        assert!(!store.is_revoked("bafy").await.unwrap());
        assert_eq!(store.list_agents().await.unwrap(), Vec::new());
    }

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
