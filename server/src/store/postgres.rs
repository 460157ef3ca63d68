//! The PostgreSQL backend: a connection pool, its migrations (`migrations/postgres`)
//! applied on connect.

mod agents;
mod audit;
mod controls;
mod devices;
mod notify;
mod requests;
mod revocations;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use countersign_core::Did;
use sqlx::Row;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};

use super::rows::{self, Columns};
use super::{
    Agent, Approval, AuditEvent, AutoApproval, ClaimSpec, CreateLimits, Delivery, DeliveryEnd,
    Denial, Device, KillReport, KillTarget, Pairing, PartialApproval, PushSubscription, QuorumRule,
    Request, RequestFilter, Result, RevokedEntry, Store, Timestamp, TokenRecord,
};
use crate::audit::{Checkpoint, Entry};

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
    async fn changes(&self) -> Result<Option<super::ChangeStream>> {
        use futures_util::StreamExt;
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.pool).await?;
        listener.listen(super::CHANGES_CHANNEL).await?;
        // The listener reconnects by itself after a lost connection; notifications sent
        // while it was away are lost, which the readers' periodic re-checks cover.
        let stream = listener.into_stream().filter_map(|item| async move {
            match item {
                Ok(n) => super::Change::decode(n.payload()),
                Err(e) => {
                    tracing::warn!(error = %e, "listening for changes failed; retrying");
                    None
                }
            }
        });
        Ok(Some(Box::pin(stream)))
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn add_agent(&self, agent: &Agent, audit: &[AuditEvent]) -> Result<()> {
        agents::add(&self.pool, agent, audit).await
    }

    async fn list_agents(&self) -> Result<Vec<Agent>> {
        agents::list(&self.pool).await
    }

    async fn agent_by_did(&self, did: &Did) -> Result<Option<Agent>> {
        agents::by_did(&self.pool, did).await
    }

    async fn remove_agent(&self, name: &str, audit: &[AuditEvent]) -> Result<()> {
        agents::remove(&self.pool, name, audit).await
    }

    async fn create_pairing(&self, pairing: &Pairing) -> Result<()> {
        devices::create_pairing(&self.pool, pairing).await
    }

    async fn pairing(&self, id: &str) -> Result<Option<Pairing>> {
        devices::pairing(&self.pool, id).await
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

    async fn confirm_pairing(&self, id: &str, device: &Device, audit: &[AuditEvent]) -> Result<()> {
        devices::confirm_pairing(&self.pool, id, device, audit).await
    }

    async fn list_devices(&self) -> Result<Vec<Device>> {
        devices::list(&self.pool).await
    }

    async fn device_by_did(&self, did: &Did) -> Result<Option<Device>> {
        devices::by_did(&self.pool, did).await
    }

    async fn remove_device(
        &self,
        id: &str,
        now: Timestamp,
        audit: &[AuditEvent],
    ) -> Result<Device> {
        devices::remove_device(&self.pool, id, now, audit).await
    }

    async fn create_request(
        &self,
        request: &Request,
        limits: CreateLimits,
        audit: &[AuditEvent],
    ) -> Result<()> {
        requests::create(&self.pool, request, limits, audit).await
    }

    async fn request(&self, id: &str) -> Result<Option<Request>> {
        requests::get(&self.pool, id).await
    }

    async fn list_requests(&self, filter: &RequestFilter) -> Result<Vec<Request>> {
        requests::list(&self.pool, filter).await
    }

    async fn approve(
        &self,
        id: &str,
        approval: &Approval,
        audit: &[AuditEvent],
    ) -> Result<Request> {
        requests::approve(&self.pool, id, approval, audit).await
    }

    async fn deny(&self, id: &str, denial: &Denial, audit: &[AuditEvent]) -> Result<Request> {
        requests::deny(&self.pool, id, denial, audit).await
    }

    async fn withdraw(
        &self,
        id: &str,
        agent: &Did,
        now: Timestamp,
        audit: &[AuditEvent],
    ) -> Result<Request> {
        requests::withdraw(&self.pool, id, agent, now, audit).await
    }

    async fn expire_due(&self, now: Timestamp) -> Result<Vec<String>> {
        requests::expire_due(&self.pool, now).await
    }

    async fn put_push_subscription(&self, subscription: &PushSubscription) -> Result<()> {
        notify::put_subscription(&self.pool, subscription).await
    }

    async fn remove_push_subscription(&self, device_id: &str, endpoint: &str) -> Result<bool> {
        notify::remove_subscription(&self.pool, device_id, endpoint).await
    }

    async fn push_subscriptions(&self, device_id: &str) -> Result<Vec<PushSubscription>> {
        notify::subscriptions(&self.pool, device_id).await
    }

    async fn claim_deliveries(&self, spec: &ClaimSpec) -> Result<Vec<Delivery>> {
        notify::claim(&self.pool, spec).await
    }

    async fn retry_delivery(
        &self,
        delivery: &Delivery,
        next_at: Timestamp,
        error: &str,
    ) -> Result<bool> {
        notify::retry(&self.pool, delivery, next_at, error).await
    }

    async fn finish_delivery(
        &self,
        delivery: &Delivery,
        end: &DeliveryEnd,
        now: Timestamp,
        audit: &[AuditEvent],
    ) -> Result<bool> {
        notify::finish(&self.pool, delivery, end, now, audit).await
    }

    async fn deliveries(&self, request_id: &str) -> Result<Vec<Delivery>> {
        notify::deliveries(&self.pool, request_id).await
    }

    async fn is_revoked(&self, cid: &str) -> Result<bool> {
        revocations::is_revoked(&self.pool, cid).await
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

    async fn append_audit(&self, audit: &[AuditEvent]) -> Result<()> {
        audit::append(&self.pool, audit).await
    }

    async fn append_audit_once(
        &self,
        issuer: &Did,
        expires_at: Timestamp,
        items: &[(String, AuditEvent)],
        evidence: (&str, &str),
    ) -> Result<Vec<bool>> {
        audit::append_once(&self.pool, issuer, expires_at, items, evidence).await
    }

    async fn audit_entries(&self, after: i64, limit: u32) -> Result<Vec<Entry>> {
        audit::entries(&self.pool, after, limit).await
    }

    async fn audit_head(&self) -> Result<(i64, String)> {
        audit::head(&self.pool).await
    }

    async fn add_checkpoint(&self, checkpoint: &Checkpoint) -> Result<()> {
        audit::add_checkpoint(&self.pool, checkpoint).await
    }

    async fn checkpoints(&self, after: i64) -> Result<Vec<Checkpoint>> {
        audit::checkpoints(&self.pool, after).await
    }

    async fn add_tokens(&self, tokens: &[TokenRecord]) -> Result<()> {
        revocations::add_tokens(&self.pool, tokens).await
    }

    async fn token(&self, cid: &str) -> Result<Option<TokenRecord>> {
        revocations::token(&self.pool, cid).await
    }

    async fn list_tokens(
        &self,
        agent: Option<&Did>,
        live_at: Option<Timestamp>,
    ) -> Result<Vec<TokenRecord>> {
        revocations::list_tokens(&self.pool, agent, live_at).await
    }

    async fn revoke(&self, entry: &RevokedEntry, audit: &[AuditEvent]) -> Result<Option<i64>> {
        revocations::revoke(&self.pool, entry, audit).await
    }

    async fn revocations_after(&self, after: i64, limit: u32) -> Result<Vec<RevokedEntry>> {
        revocations::after(&self.pool, after, limit).await
    }

    async fn kill(
        &self,
        target: KillTarget,
        now: Timestamp,
        audit: &[AuditEvent],
    ) -> Result<KillReport> {
        agents::kill(&self.pool, target, now, audit).await
    }

    async fn lift_kill(&self, target: KillTarget, audit: &[AuditEvent]) -> Result<()> {
        agents::lift_kill(&self.pool, target, audit).await
    }

    async fn is_killed(&self, agent: &Did) -> Result<bool> {
        agents::is_killed(&self.pool, agent).await
    }

    async fn suspend_agent(&self, agent: &Did, now: Timestamp, audit: &[AuditEvent]) -> Result<()> {
        agents::suspend(&self.pool, agent, now, audit).await
    }

    async fn resume_agent(&self, name: &str, audit: &[AuditEvent]) -> Result<()> {
        agents::resume(&self.pool, name, audit).await
    }

    async fn is_suspended(&self, agent: &Did) -> Result<bool> {
        agents::is_suspended(&self.pool, agent).await
    }

    async fn count_denials(&self, agent: &Did, since: Timestamp) -> Result<u64> {
        requests::count_denials(&self.pool, agent, since).await
    }

    async fn count_pending(&self, now: Timestamp) -> Result<u64> {
        requests::count_pending(&self.pool, now).await
    }

    async fn find_identical_pending(
        &self,
        request: &Request,
        now: Timestamp,
    ) -> Result<Option<Request>> {
        requests::find_identical(&self.pool, request, now).await
    }

    async fn add_auto_approval(&self, auto: &AutoApproval, audit: &[AuditEvent]) -> Result<()> {
        controls::add_auto(&self.pool, auto, audit).await
    }

    async fn auto_approvals(&self, now: Timestamp) -> Result<Vec<AutoApproval>> {
        controls::autos(&self.pool, now).await
    }

    async fn remove_auto_approval(
        &self,
        cid: &str,
        now: Timestamp,
        audit: &[AuditEvent],
    ) -> Result<()> {
        controls::remove_auto(&self.pool, cid, now, audit).await
    }

    async fn add_quorum_rule(&self, rule: &QuorumRule, audit: &[AuditEvent]) -> Result<()> {
        controls::add_rule(&self.pool, rule, audit).await
    }

    async fn quorum_rules(&self) -> Result<Vec<QuorumRule>> {
        controls::rules(&self.pool).await
    }

    async fn remove_quorum_rule(&self, id: &str, audit: &[AuditEvent]) -> Result<()> {
        controls::remove_rule(&self.pool, id, audit).await
    }

    async fn add_partial_approval(
        &self,
        approval: &PartialApproval,
        audit: &[AuditEvent],
    ) -> Result<Vec<PartialApproval>> {
        controls::add_partial(&self.pool, approval, audit).await
    }
}
