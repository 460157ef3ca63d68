//! Store cases for the audit log: the hash chain, appends serialized under concurrency,
//! and checkpoints.

use countersign_server::audit::{Checkpoint, Entry, GENESIS, entry_hash, hex, kind, verify_export};
use countersign_server::store::{AuditEvent, Store, StoreError};
use serde_json::json;

use super::fixtures::{NO_LIMITS, T0, TestDb, event, request};

/// Checks that `entries` are the whole log: seq 1, 2, 3… and each entry's `prev` the hash
/// of the one before (GENESIS first), every hash recomputed from the entry's fields.
pub fn assert_chain(entries: &[Entry]) {
    let mut prev = GENESIS;
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e.seq, i64::try_from(i).unwrap() + 1, "seq without gaps");
        assert_eq!(
            e.prev,
            hex(&prev),
            "entry {} follows entry {}",
            e.seq,
            e.seq - 1
        );
        let hash = entry_hash(&prev, e.seq, e.at, &e.kind, &e.actor, &e.subject, &e.data);
        assert_eq!(e.hash, hex(&hash), "entry {} hash", e.seq);
        prev = hash;
    }
}

/// The whole log, read page by page.
pub async fn all_entries(s: &dyn Store) -> Vec<Entry> {
    let mut all: Vec<Entry> = Vec::new();
    loop {
        let after = all.last().map_or(0, |e| e.seq);
        let page = s.audit_entries(after, 7).await.unwrap();
        if page.is_empty() {
            return all;
        }
        all.extend(page);
    }
}

fn as_event(e: &Entry) -> AuditEvent {
    AuditEvent::new(e.at, &e.kind, &e.actor, e.subject.clone(), e.data.clone())
}

pub async fn audit_chain_links(db: TestDb) {
    let s = db.store();
    assert_eq!(s.audit_head().await.unwrap(), (0, hex(&GENESIS)));
    assert!(s.audit_entries(0, 0).await.unwrap().is_empty());
    s.append_audit(&[]).await.unwrap();
    assert_eq!(s.audit_head().await.unwrap().0, 0);

    let events: Vec<AuditEvent> = (0..50)
        .map(|i| {
            let mut e = event(T0 + i, kind::NOTIFICATION_SENT, &format!("r{i}"));
            e.data = json!({"z": i, "a": {"y": [i, "é"], "b": null}});
            e
        })
        .collect();
    let mut start = 0;
    for batch in [1, 5, 44] {
        s.append_audit(&events[start..start + batch]).await.unwrap();
        start += batch;
        assert_eq!(
            s.audit_head().await.unwrap().0,
            i64::try_from(start).unwrap()
        );
    }

    let all = s.audit_entries(0, 0).await.unwrap();
    assert_eq!(all.len(), 50);
    assert_chain(&all);
    assert_eq!(all.iter().map(as_event).collect::<Vec<_>>(), events);
    assert_eq!(s.audit_head().await.unwrap(), (50, all[49].hash.clone()));
    assert_eq!(all_entries(&*s).await, all);
    let page = s.audit_entries(10, 5).await.unwrap();
    assert_eq!(
        page.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [11, 12, 13, 14, 15]
    );
    assert!(s.audit_entries(50, 0).await.unwrap().is_empty());

    // What the log holds, with a checkpoint signed over it, passes the offline
    // verification of an export; without the checkpoint it does not.
    let signer = countersign_core::Keypair::from_seed(&[3; 32]);
    let (count, head) = s.audit_head().await.unwrap();
    let message = countersign_server::audit::checkpoint_message(count, &head, T0);
    let checkpoint = Checkpoint {
        count,
        head,
        at: T0,
        signature: data_encoding::BASE64.encode(&signer.sign(message.as_bytes())),
    };
    let unsigned = countersign_server::audit::write_export(&signer.did(), 0, &all, &[]);
    assert!(verify_export(&unsigned, None).is_err());
    let export = countersign_server::audit::write_export(&signer.did(), 0, &all, &[checkpoint]);
    let summary = verify_export(&export, Some(&signer.did())).unwrap();
    assert_eq!((summary.entries, summary.last_seq), (50, Some(50)));
}

/// Callers that go away mid-write (a client hanging up cancels its handler) leave each
/// write whole or absent, and the store goes on taking writes.
pub async fn abandoned_writes_are_whole_or_absent(db: TestDb) {
    const ABANDONED: u8 = 80;
    let s = db.store();
    for i in 0..ABANDONED {
        let at = T0 + i64::from(i);
        let id = format!("r{i}");
        let events = [
            event(at, kind::REQUEST_CREATED, &id),
            event(at, kind::NOTIFICATION_SENT, &id),
        ];
        let r = request(&id, 10 + i % 3, at);
        // Dropped at a different point of its work each time: before it starts, between
        // its statements, or after it ends.
        let write = s.create_request(&r, NO_LIMITS, &events);
        let after = std::time::Duration::from_micros(u64::from(i) * 37 % 1500);
        let _ = tokio::time::timeout(after, write).await;
    }
    // No abandoned write left a transaction holding the database.
    let last = request("last", 20, T0 + 100);
    let created = event(T0 + 100, kind::REQUEST_CREATED, "last");
    s.create_request(&last, NO_LIMITS, &[created])
        .await
        .unwrap();
    // Requests first, then the log: a write that commits in between shows its events
    // without its request, never the reverse and never one event alone.
    let mut stored = Vec::new();
    for i in 0..ABANDONED {
        stored.push(s.request(&format!("r{i}")).await.unwrap().is_some());
    }
    let all = all_entries(&*s).await;
    assert_chain(&all);
    for (i, stored) in stored.into_iter().enumerate() {
        let id = format!("r{i}");
        let events = all.iter().filter(|e| e.subject == id).count();
        assert!(events == 0 || events == 2, "{id}: {events} of its 2 events");
        if stored {
            assert_eq!(events, 2, "{id} was stored without its events");
        }
    }
}

pub async fn concurrent_audited_writes_stay_one_chain(db: TestDb) {
    let s = db.store();
    let tasks: Vec<_> = (0..20u8)
        .flat_map(|i| {
            let (s1, s2) = (s.clone(), s.clone());
            let at = T0 + i64::from(i);
            [
                tokio::spawn(async move {
                    let events = [
                        event(at, kind::NOTIFICATION_SENT, &format!("n{i}")),
                        event(at, kind::NOTIFICATION_FAILED, &format!("n{i}")),
                    ];
                    s1.append_audit(&events).await
                }),
                tokio::spawn(async move {
                    let created = event(at, kind::REQUEST_CREATED, &format!("r{i}"));
                    let r = request(&format!("r{i}"), 10 + i % 3, at);
                    s2.create_request(&r, NO_LIMITS, &[created]).await
                }),
            ]
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let all = all_entries(&*s).await;
    assert_eq!(all.len(), 60);
    assert_chain(&all);
    assert_eq!(s.audit_head().await.unwrap(), (60, all[59].hash.clone()));
    for i in 0..20 {
        let of = |kind: &str, subject: String| {
            all.iter()
                .filter(|e| e.kind == kind && e.subject == subject)
                .count()
        };
        assert_eq!(of(kind::REQUEST_CREATED, format!("r{i}")), 1);
        assert_eq!(of(kind::NOTIFICATION_SENT, format!("n{i}")), 1);
        // A change's events stay together, in order.
        let sent = all
            .iter()
            .position(|e| e.kind == kind::NOTIFICATION_SENT && e.subject == format!("n{i}"))
            .unwrap();
        assert_eq!(all[sent + 1].kind, kind::NOTIFICATION_FAILED);
        assert_eq!(all[sent + 1].subject, format!("n{i}"));
    }
}

pub async fn checkpoints_round_trip(db: TestDb) {
    let s = db.store();
    assert!(s.checkpoints(0).await.unwrap().is_empty());
    let checkpoint = |count: i64| Checkpoint {
        count,
        head: hex(&[u8::try_from(count).unwrap(); 32]),
        at: T0 + count,
        signature: format!("c2lnbmF0dXJl{count}"),
    };
    for count in [10, 5, 15] {
        s.add_checkpoint(&checkpoint(count)).await.unwrap();
    }
    let dup = s.add_checkpoint(&checkpoint(10)).await;
    assert!(matches!(dup, Err(StoreError::AlreadyExists)));
    let all = s.checkpoints(0).await.unwrap();
    assert_eq!(all, [checkpoint(5), checkpoint(10), checkpoint(15)]);
    assert_eq!(
        s.checkpoints(5).await.unwrap(),
        [checkpoint(10), checkpoint(15)]
    );
    assert!(s.checkpoints(15).await.unwrap().is_empty());
}

pub async fn statements_are_logged_once(db: TestDb) {
    let s = db.store();
    let gateway = countersign_core::Keypair::from_seed(&[40; 32]).did();
    let event = countersign_server::store::AuditEvent::new(
        T0,
        "gateway.receipt",
        gateway,
        "bafy-inv",
        serde_json::json!({"outcome": "ok"}),
    );
    let once = |id: &str| (id.to_owned(), event.clone());
    let fresh = s
        .append_audit_once(&gateway, T0 + 60, &[once("r-1")], ("statement", "signed-1"))
        .await
        .unwrap();
    assert_eq!(fresh, [true]);
    // Delivered again, beside a new one: only the new one is appended.
    let fresh = s
        .append_audit_once(
            &gateway,
            T0 + 60,
            &[once("r-1"), once("r-2")],
            ("statement", "signed-2"),
        )
        .await
        .unwrap();
    assert_eq!(fresh, [false, true]);
    assert_eq!(s.audit_head().await.unwrap().0, 2);
    // Each appended batch's first entry carries the statement it came from.
    let entries = s.audit_entries(0, 0).await.unwrap();
    assert_eq!(entries[0].data["statement"], "signed-1");
    assert_eq!(entries[1].data["statement"], "signed-2");
    // The id is consumed for ordinary use too.
    assert!(!s.use_jti(&gateway, "r-1", T0 + 60).await.unwrap());
}
