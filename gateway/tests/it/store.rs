//! The gateway's store: accepted invocations across restarts, schema upgrades and
//! pruning.

use std::borrow::Cow;
use std::str::FromStr;

use countersign_core::Cid;
use countersign_gateway::store::{ATTEMPT, Claim, Outcome, Record, Store};
use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

use crate::support::TempDir;

const NOW: i64 = 1_800_000_000;

fn claim(cid: &Cid) -> Claim {
    Claim {
        cid: cid.clone(),
        route: "/payment/refund".into(),
        expires_at: NOW + 60,
        at: NOW,
    }
}

#[tokio::test]
async fn a_store_of_the_first_schema_keeps_its_replays_and_calls_under_way() {
    let dir = TempDir::new("store");
    let (done, running) = (Cid::dag_cbor(b"done"), Cid::dag_cbor(b"running"));
    {
        let url = format!("sqlite:{}", dir.path().join("gateway.db").display());
        let options = SqliteConnectOptions::from_str(&url)
            .unwrap()
            .create_if_missing(true);
        let mut conn = SqliteConnection::connect_with(&options).await.unwrap();
        let mut first = sqlx::migrate!("./migrations");
        first.migrations = Cow::Owned(first.migrations[..1].to_vec());
        first.run(&mut conn).await.unwrap();
        for cid in [&done, &running] {
            sqlx::query("INSERT INTO replay (cid, expires_at) VALUES (?, ?)")
                .bind(cid.as_bytes())
                .bind(NOW + 60)
                .execute(&mut conn)
                .await
                .unwrap();
        }
        sqlx::query("INSERT INTO inflight (invocation, route, at) VALUES (?, ?, ?)")
            .bind(running.to_string())
            .bind("/payment/refund")
            .bind(NOW - 5)
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    }

    let store = Store::open(dir.path(), NOW).await.unwrap();
    let pending = store.pending(10).await.unwrap();
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0].invocation, running.to_string());
    assert_eq!(pending[0].outcome, "unknown");
    assert!(store.inflight().await.unwrap().is_empty());
    for cid in [&done, &running] {
        assert!(!store.claim(claim(cid)).await.unwrap(), "{cid} runs once");
    }
    assert!(store.claim(claim(&Cid::dag_cbor(b"new"))).await.unwrap());
}

#[tokio::test]
async fn accepted_invocations_are_refused_after_a_restart() {
    let dir = TempDir::new("store");
    let cid = Cid::dag_cbor(b"once");
    let store = Store::open(dir.path(), NOW).await.unwrap();
    assert!(store.claim(claim(&cid)).await.unwrap());
    assert!(!store.claim(claim(&cid)).await.unwrap());
    assert_eq!(store.inflight().await.unwrap(), [cid.to_string()]);
    drop(store);
    // The call never ended: reopening reports it, and it is still never run again.
    let store = Store::open(dir.path(), NOW).await.unwrap();
    assert!(!store.claim(claim(&cid)).await.unwrap());
    assert!(store.inflight().await.unwrap().is_empty());
    assert_eq!(store.pending(10).await.unwrap()[0].outcome, "unknown");
}

#[tokio::test]
async fn pruning_forgets_expired_invocations_but_not_calls_under_way() {
    let dir = TempDir::new("store");
    let store = Store::open(dir.path(), NOW).await.unwrap();
    let (ended, running) = (Cid::dag_cbor(b"ended"), Cid::dag_cbor(b"running"));
    assert!(store.claim(claim(&ended)).await.unwrap());
    assert!(store.claim(claim(&running)).await.unwrap());
    store.record(Record {
        invocation: ended.clone(),
        kind: ATTEMPT.into(),
        route: "/payment/refund".into(),
        outcome: Outcome::Ok,
        status: 200,
        at: NOW,
        expires_at: NOW + 60,
    });
    // Before expiry, nothing is forgotten.
    store.prune(NOW + 60).await.unwrap();
    assert!(!store.claim(claim(&ended)).await.unwrap());
    store.prune(NOW + 61).await.unwrap();
    assert_eq!(store.inflight().await.unwrap(), [running.to_string()]);
    assert!(!store.claim(claim(&running)).await.unwrap());
    // Only past its expiry, once its call ended, is an invocation forgotten (the chain's
    // own expiry refuses it from then on).
    assert!(store.claim(claim(&ended)).await.unwrap());
    drop(store);
    let store = Store::open(dir.path(), NOW).await.unwrap();
    assert!(!store.claim(claim(&ended)).await.unwrap());
}
