//! The SQLite backend: one database file in WAL mode with `synchronous = FULL`, its
//! migrations (`migrations/sqlite`) applied on connect.

mod agents;
mod audit;
mod controls;
mod devices;
mod frame;
mod jtis;
mod notify;
mod requests;
mod revocations;
mod writer;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use countersign_core::Did;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};

use frame::{frame, unframe};
use writer::Writer;

use super::rows::{self, Columns};
use super::{
    Agent, Approval, AuditEvent, AutoApproval, ClaimSpec, CreateLimits, Delivery, DeliveryEnd,
    Denial, Device, KillReport, KillTarget, Pairing, PartialApproval, PushSubscription, QuorumRule,
    Request, RequestFilter, Result, RevokedEntry, Store, Timestamp, TokenRecord,
};
use crate::audit::{Checkpoint, Entry};

/// Connections in the pool of a database file (writes are serialized by SQLite anyway).
const POOL_SIZE: u32 = 4;
/// How long a statement waits for another connection's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The store in an SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// For reads.
    pool: SqlitePool,
    /// For writes: one connection. SQLite runs one write transaction at a time; writers
    /// queue here, in order, and start the moment the previous one ends, instead of each
    /// taking a connection and sleep-polling SQLite's lock in its busy handler (steps of
    /// 1 to 100 ms), which under load kept writers waiting far longer than writes take.
    /// Used only on `writer`.
    writes: SqlitePool,
    /// The thread every write runs on.
    writer: Writer,
    /// Records token ids in batches, on `writes`.
    jtis: jtis::Jtis,
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
        if in_memory {
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await?;
            sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
            let writer = Writer::start()?;
            return Ok(SqliteStore {
                jtis: jtis::Jtis::start(&writer, pool.clone()),
                writes: pool.clone(),
                writer,
                pool,
            });
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(POOL_SIZE)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        // The write connection belongs to the writer thread's runtime.
        let writer = Writer::start()?;
        let writes = writer
            .run(async move {
                Ok(SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect_with(options)
                    .await?)
            })
            .await?;
        Ok(SqliteStore {
            jtis: jtis::Jtis::start(&writer, writes.clone()),
            pool,
            writes,
            writer,
        })
    }
}

/// A write transaction: `BEGIN IMMEDIATE` takes the database's write lock at once, so
/// writers queue (up to the busy timeout) instead of failing on a lock upgrade, and
/// everything the transaction reads stays current until it commits.
///
/// Only ever called on the writer thread ([`Writer::run`]), whose tasks are never
/// dropped half-way: sqlx leaves a custom `BEGIN` open on the pooled connection when the
/// future that began it is dropped just after the `BEGIN` ran, and the connection would
/// then hold the write lock for good. A transaction nobody takes is rolled back when
/// dropped.
async fn begin(pool: &SqlitePool) -> Result<Transaction<'static, Sqlite>> {
    Ok(pool.begin_with("BEGIN IMMEDIATE").await?)
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

#[async_trait]
impl Store for SqliteStore {
    async fn changes(&self) -> Result<Option<super::ChangeStream>> {
        Ok(None)
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn add_agent(&self, agent: &Agent, audit: &[AuditEvent]) -> Result<()> {
        let writes = self.writes.clone();
        let agent = agent.clone();
        let audit = audit.to_vec();
        self.writer
            .run(async move { agents::add(&writes, &agent, &audit).await })
            .await
    }

    async fn list_agents(&self) -> Result<Vec<Agent>> {
        agents::list(&self.pool).await
    }

    async fn agent_by_did(&self, did: &Did) -> Result<Option<Agent>> {
        agents::by_did(&self.pool, did).await
    }

    async fn remove_agent(&self, name: &str, audit: &[AuditEvent]) -> Result<()> {
        let writes = self.writes.clone();
        let name = name.to_owned();
        let audit = audit.to_vec();
        self.writer
            .run(async move { agents::remove(&writes, &name, &audit).await })
            .await
    }

    async fn create_pairing(&self, pairing: &Pairing) -> Result<()> {
        let writes = self.writes.clone();
        let pairing = pairing.clone();
        self.writer
            .run(async move { devices::create_pairing(&writes, &pairing).await })
            .await
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
        let writes = self.writes.clone();
        let code_hash = code_hash.to_vec();
        let device = *device;
        let name = name.to_owned();
        self.writer
            .run(async move { devices::claim_pairing(&writes, &code_hash, &device, &name, now).await })
            .await
    }

    async fn confirm_pairing(&self, id: &str, device: &Device, audit: &[AuditEvent]) -> Result<()> {
        let writes = self.writes.clone();
        let id = id.to_owned();
        let device = device.clone();
        let audit = audit.to_vec();
        self.writer
            .run(async move { devices::confirm_pairing(&writes, &id, &device, &audit).await })
            .await
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
        let writes = self.writes.clone();
        let id = id.to_owned();
        let audit = audit.to_vec();
        self.writer
            .run(async move { devices::remove_device(&writes, &id, now, &audit).await })
            .await
    }

    async fn create_request(
        &self,
        request: &Request,
        limits: CreateLimits,
        audit: &[AuditEvent],
    ) -> Result<()> {
        let writes = self.writes.clone();
        let request = request.clone();
        let audit = audit.to_vec();
        self.writer
            .run(async move { requests::create(&writes, &request, limits, &audit).await })
            .await
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
        let writes = self.writes.clone();
        let id = id.to_owned();
        let approval = approval.clone();
        let audit = audit.to_vec();
        self.writer
            .run(async move { requests::approve(&writes, &id, &approval, &audit).await })
            .await
    }

    async fn deny(&self, id: &str, denial: &Denial, audit: &[AuditEvent]) -> Result<Request> {
        let writes = self.writes.clone();
        let id = id.to_owned();
        let denial = denial.clone();
        let audit = audit.to_vec();
        self.writer
            .run(async move { requests::deny(&writes, &id, &denial, &audit).await })
            .await
    }

    async fn withdraw(
        &self,
        id: &str,
        agent: &Did,
        now: Timestamp,
        audit: &[AuditEvent],
    ) -> Result<Request> {
        let writes = self.writes.clone();
        let id = id.to_owned();
        let agent = *agent;
        let audit = audit.to_vec();
        self.writer
            .run(async move { requests::withdraw(&writes, &id, &agent, now, &audit).await })
            .await
    }

    async fn expire_due(&self, now: Timestamp) -> Result<Vec<String>> {
        let writes = self.writes.clone();
        self.writer
            .run(async move { requests::expire_due(&writes, now).await })
            .await
    }

    async fn put_push_subscription(&self, subscription: &PushSubscription) -> Result<()> {
        let writes = self.writes.clone();
        let subscription = subscription.clone();
        self.writer
            .run(async move { notify::put_subscription(&writes, &subscription).await })
            .await
    }

    async fn remove_push_subscription(&self, device_id: &str, endpoint: &str) -> Result<bool> {
        let writes = self.writes.clone();
        let device_id = device_id.to_owned();
        let endpoint = endpoint.to_owned();
        self.writer
            .run(async move { notify::remove_subscription(&writes, &device_id, &endpoint).await })
            .await
    }

    async fn push_subscriptions(&self, device_id: &str) -> Result<Vec<PushSubscription>> {
        notify::subscriptions(&self.pool, device_id).await
    }

    async fn claim_deliveries(&self, spec: &ClaimSpec) -> Result<Vec<Delivery>> {
        let writes = self.writes.clone();
        let spec = spec.clone();
        self.writer
            .run(async move { notify::claim(&writes, &spec).await })
            .await
    }

    async fn retry_delivery(
        &self,
        delivery: &Delivery,
        next_at: Timestamp,
        error: &str,
    ) -> Result<bool> {
        let writes = self.writes.clone();
        let delivery = delivery.clone();
        let error = error.to_owned();
        self.writer
            .run(async move { notify::retry(&writes, &delivery, next_at, &error).await })
            .await
    }

    async fn finish_delivery(
        &self,
        delivery: &Delivery,
        end: &DeliveryEnd,
        now: Timestamp,
        audit: &[AuditEvent],
    ) -> Result<bool> {
        let writes = self.writes.clone();
        let delivery = delivery.clone();
        let end = end.clone();
        let audit = audit.to_vec();
        self.writer
            .run(async move { notify::finish(&writes, &delivery, &end, now, &audit).await })
            .await
    }

    async fn deliveries(&self, request_id: &str) -> Result<Vec<Delivery>> {
        notify::deliveries(&self.pool, request_id).await
    }

    async fn is_revoked(&self, cid: &str) -> Result<bool> {
        revocations::is_revoked(&self.pool, cid).await
    }

    async fn use_jti(&self, issuer: &Did, jti: &str, expires_at: Timestamp) -> Result<bool> {
        self.jtis
            .use_once(issuer.to_string(), jti, expires_at)
            .await
    }

    async fn prune_jtis(&self, now: Timestamp) -> Result<u64> {
        let writes = self.writes.clone();
        self.writer
            .run(async move {
                let done = sqlx::query("DELETE FROM used_jtis WHERE expires_at < ?")
                    .bind(now)
                    .execute(&writes)
                    .await?;
                Ok(done.rows_affected())
            })
            .await
    }

    async fn append_audit(&self, audit: &[AuditEvent]) -> Result<()> {
        let writes = self.writes.clone();
        let audit = audit.to_vec();
        self.writer
            .run(async move { audit::append(&writes, &audit).await })
            .await
    }

    async fn append_audit_once(
        &self,
        issuer: &Did,
        expires_at: Timestamp,
        items: &[(String, AuditEvent)],
        evidence: (&str, &str),
    ) -> Result<Vec<bool>> {
        let writes = self.writes.clone();
        let issuer = *issuer;
        let items = items.to_vec();
        let evidence = (evidence.0.to_owned(), evidence.1.to_owned());
        self.writer
            .run(async move {
                audit::append_once(
                    &writes,
                    &issuer,
                    expires_at,
                    &items,
                    (evidence.0.as_str(), evidence.1.as_str()),
                )
                .await
            })
            .await
    }

    async fn audit_entries(&self, after: i64, limit: u32) -> Result<Vec<Entry>> {
        audit::entries(&self.pool, after, limit).await
    }

    async fn audit_head(&self) -> Result<(i64, String)> {
        audit::head(&self.pool).await
    }

    async fn add_checkpoint(&self, checkpoint: &Checkpoint) -> Result<()> {
        let writes = self.writes.clone();
        let checkpoint = checkpoint.clone();
        self.writer
            .run(async move { audit::add_checkpoint(&writes, &checkpoint).await })
            .await
    }

    async fn checkpoints(&self, after: i64) -> Result<Vec<Checkpoint>> {
        audit::checkpoints(&self.pool, after).await
    }

    async fn add_tokens(&self, tokens: &[TokenRecord]) -> Result<()> {
        let writes = self.writes.clone();
        let tokens = tokens.to_vec();
        self.writer
            .run(async move { revocations::add_tokens(&writes, &tokens).await })
            .await
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
        let writes = self.writes.clone();
        let entry = entry.clone();
        let audit = audit.to_vec();
        self.writer
            .run(async move { revocations::revoke(&writes, &entry, &audit).await })
            .await
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
        let writes = self.writes.clone();
        let audit = audit.to_vec();
        self.writer
            .run(async move { agents::kill(&writes, target, now, &audit).await })
            .await
    }

    async fn lift_kill(&self, target: KillTarget, audit: &[AuditEvent]) -> Result<()> {
        let writes = self.writes.clone();
        let audit = audit.to_vec();
        self.writer
            .run(async move { agents::lift_kill(&writes, target, &audit).await })
            .await
    }

    async fn is_killed(&self, agent: &Did) -> Result<bool> {
        agents::is_killed(&self.pool, agent).await
    }

    async fn suspend_agent(&self, agent: &Did, now: Timestamp, audit: &[AuditEvent]) -> Result<()> {
        let writes = self.writes.clone();
        let agent = *agent;
        let audit = audit.to_vec();
        self.writer
            .run(async move { agents::suspend(&writes, &agent, now, &audit).await })
            .await
    }

    async fn resume_agent(&self, name: &str, audit: &[AuditEvent]) -> Result<()> {
        let writes = self.writes.clone();
        let name = name.to_owned();
        let audit = audit.to_vec();
        self.writer
            .run(async move { agents::resume(&writes, &name, &audit).await })
            .await
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
        let writes = self.writes.clone();
        let auto = auto.clone();
        let audit = audit.to_vec();
        self.writer
            .run(async move { controls::add_auto(&writes, &auto, &audit).await })
            .await
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
        let writes = self.writes.clone();
        let cid = cid.to_owned();
        let audit = audit.to_vec();
        self.writer
            .run(async move { controls::remove_auto(&writes, &cid, now, &audit).await })
            .await
    }

    async fn add_quorum_rule(&self, rule: &QuorumRule, audit: &[AuditEvent]) -> Result<()> {
        let writes = self.writes.clone();
        let rule = rule.clone();
        let audit = audit.to_vec();
        self.writer
            .run(async move { controls::add_rule(&writes, &rule, &audit).await })
            .await
    }

    async fn quorum_rules(&self) -> Result<Vec<QuorumRule>> {
        controls::rules(&self.pool).await
    }

    async fn remove_quorum_rule(&self, id: &str, audit: &[AuditEvent]) -> Result<()> {
        let writes = self.writes.clone();
        let id = id.to_owned();
        let audit = audit.to_vec();
        self.writer
            .run(async move { controls::remove_rule(&writes, &id, &audit).await })
            .await
    }

    async fn add_partial_approval(
        &self,
        approval: &PartialApproval,
        audit: &[AuditEvent],
    ) -> Result<Vec<PartialApproval>> {
        let writes = self.writes.clone();
        let approval = approval.clone();
        let audit = audit.to_vec();
        self.writer
            .run(async move { controls::add_partial(&writes, &approval, &audit).await })
            .await
    }
}

#[cfg(test)]
mod tests {
    use sqlx::Row;

    use super::SqliteStore;
    use crate::store::Store;

    #[tokio::test]
    async fn connections_are_durable_and_checked() {
        let dir = std::env::temp_dir().join(format!("cs_sqlite_pragmas_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite:{}", dir.join("new.db").display());
        let store = SqliteStore::connect(&url).await.unwrap();
        // Both the readers and the writer.
        for pool in [&store.pool, &store.writes] {
            let journal: String = sqlx::query("PRAGMA journal_mode")
                .fetch_one(pool)
                .await
                .unwrap()
                .get(0);
            assert_eq!(journal, "wal");
            for (pragma, expected) in [("synchronous", 2), ("foreign_keys", 1)] {
                let value: i64 = sqlx::query(&format!("PRAGMA {pragma}"))
                    .fetch_one(pool)
                    .await
                    .unwrap()
                    .get(0);
                assert_eq!(value, expected, "{pragma}"); // synchronous 2 = FULL
            }
        }
        drop(store);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn token_ids_used_at_once_are_each_new_exactly_once() {
        let dir = std::env::temp_dir().join(format!("cs_sqlite_jtis_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite:{}", dir.join("jtis.db").display());
        let store = SqliteStore::connect(&url).await.unwrap();
        let issuer = countersign_core::Keypair::from_seed(&[7; 32]).did();
        // 60 concurrent uses of 20 ids: whatever batches they fall into, each id is new
        // once.
        let uses = (0..60).map(|i| {
            let store = store.clone();
            async move {
                let jti = format!("id-{}", i % 20);
                (
                    jti.clone(),
                    store.use_jti(&issuer, &jti, 2_000_000_000).await.unwrap(),
                )
            }
        });
        let results = futures_util::future::join_all(uses).await;
        let mut new: Vec<String> = results
            .into_iter()
            .filter(|(_, fresh)| *fresh)
            .map(|(jti, _)| jti)
            .collect();
        new.sort();
        let mut expected: Vec<String> = (0..20).map(|i| format!("id-{i}")).collect();
        expected.sort();
        assert_eq!(new, expected);
        // A later batch refuses every one of them.
        for i in 0..20 {
            let jti = format!("id-{i}");
            assert!(!store.use_jti(&issuer, &jti, 2_000_000_000).await.unwrap());
        }
        // Durable: a new connection to the file still refuses them.
        drop(store);
        let store = SqliteStore::connect(&url).await.unwrap();
        assert!(!store.use_jti(&issuer, "id-3", 2_000_000_000).await.unwrap());
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
}
