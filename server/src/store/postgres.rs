//! The PostgreSQL backend: a connection pool, its migrations (`migrations/postgres`)
//! applied on connect.

mod devices;
mod requests;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use countersign_core::Did;
use sqlx::Row;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};

use super::rows::{self, Columns};
use super::{
    Agent, Approval, CreateLimits, Denial, Device, Pairing, Request, RequestFilter, Result, Store,
    StoreError, Timestamp,
};

/// Connections in the pool.
const POOL_SIZE: u32 = 10;
/// How long a caller waits for a free connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// The store in a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to the database a `postgres://` URL names and migrates it.
    pub async fn connect(url: &str) -> Result<Self> {
        let options = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(PostgresStore { pool })
    }
}

impl Columns for PgRow {
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
        Ok(self.try_get(col)?)
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn add_agent(&self, agent: &Agent) -> Result<()> {
        sqlx::query(
            "INSERT INTO agents (name, did, allow, max_pending, rate_per_min, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
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
        let found = sqlx::query("SELECT * FROM agents WHERE did = $1")
            .bind(did.to_string())
            .fetch_optional(&self.pool)
            .await?;
        found.as_ref().map(rows::agent).transpose()
    }

    async fn remove_agent(&self, name: &str) -> Result<()> {
        let done = sqlx::query("DELETE FROM agents WHERE name = $1")
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
        let found = sqlx::query("SELECT * FROM pairings WHERE id = $1")
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
        let found = sqlx::query("SELECT * FROM devices WHERE did = $1 AND removed_at IS NULL")
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
            "UPDATE requests SET state = 'expired', decided_at = $1
             WHERE state = 'pending' AND expires_at <= $1 RETURNING id",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        ids.iter().map(|row| row.text("id")).collect()
    }

    async fn is_revoked(&self, cid: &str) -> Result<bool> {
        let found = sqlx::query("SELECT 1 FROM revocations WHERE cid = $1")
            .bind(cid)
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }

    async fn use_jti(&self, issuer: &Did, jti: &str, expires_at: Timestamp) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO used_jtis (issuer, jti, expires_at) VALUES ($1, $2, $3)
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
        let done = sqlx::query("DELETE FROM used_jtis WHERE expires_at < $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
