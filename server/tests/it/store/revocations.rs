//! Store cases for the tokens the service keeps and the revocation feed: cursors, repeats,
//! device removal's entries, a reader racing writers, and the token listings.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use countersign_core::Cid;
use countersign_server::audit::kind;
use countersign_server::store::RevokedEntry;

use super::audit::{all_entries, assert_chain};
use super::fixtures::{
    NO_LIMITS, T0, TestDb, approval, code_hash, device, did, event, pairing, request, revocation,
    token, tokens,
};

pub async fn revocation_feed_cursors(db: TestDb) {
    let s = db.store();
    assert!(s.revocations_after(0, 0).await.unwrap().is_empty());
    let mut cursors = Vec::new();
    for (i, cid) in ["bafy-a", "bafy-b", "bafy-c"].into_iter().enumerate() {
        let record = (i != 1).then_some(r#"{"revoke":"bafy"}"#);
        let at = T0 + i64::try_from(i).unwrap();
        let audit = [event(at, kind::REVOCATION, cid)];
        let cursor = s
            .revoke(&revocation(cid, at, record), &audit)
            .await
            .unwrap();
        cursors.push(cursor.unwrap());
    }
    assert!(cursors.windows(2).all(|w| w[0] < w[1]), "{cursors:?}");
    assert!(cursors[0] > 0);

    // Revoking again changes nothing: no cursor, no entry, no audit event.
    let again = revocation("bafy-b", T0 + 50, None);
    let audit = [event(T0 + 50, kind::REVOCATION, "bafy-b")];
    assert_eq!(s.revoke(&again, &audit).await.unwrap(), None);
    assert_eq!(s.audit_head().await.unwrap().0, 3);

    let feed = s.revocations_after(0, 0).await.unwrap();
    let expected: Vec<RevokedEntry> = ["bafy-a", "bafy-b", "bafy-c"]
        .into_iter()
        .enumerate()
        .map(|(i, cid)| RevokedEntry {
            cursor: cursors[i],
            ..revocation(
                cid,
                T0 + i64::try_from(i).unwrap(),
                (i != 1).then_some(r#"{"revoke":"bafy"}"#),
            )
        })
        .collect();
    assert_eq!(feed, expected);
    assert_eq!(
        s.revocations_after(cursors[0], 0).await.unwrap(),
        &expected[1..]
    );
    assert_eq!(s.revocations_after(0, 1).await.unwrap(), &expected[..1]);
    assert!(s.revocations_after(cursors[2], 0).await.unwrap().is_empty());
    assert!(s.is_revoked("bafy-b").await.unwrap());
    assert!(!s.is_revoked("bafy-z").await.unwrap());
}

pub async fn device_removal_feeds_revocations(db: TestDb) {
    let s = db.store();
    s.revoke(&revocation("bafy-first", T0, None), &[])
        .await
        .unwrap();
    let standing = tokens()[..2].to_vec();
    let cids: Vec<String> = standing
        .iter()
        .map(|t| Cid::dag_cbor(t).to_string())
        .collect();
    s.create_pairing(&pairing("p1", "code", T0 + 600))
        .await
        .unwrap();
    s.claim_pairing(&code_hash("code"), &did(2), "phone", T0)
        .await
        .unwrap();
    s.confirm_pairing("p1", &device("d1", 2, standing), &[])
        .await
        .unwrap();
    s.remove_device("d1", T0 + 100, &[]).await.unwrap();

    let feed = s.revocations_after(0, 0).await.unwrap();
    assert_eq!(feed.len(), 3);
    assert!(feed.windows(2).all(|w| w[0].cursor < w[1].cursor));
    let removed: Vec<_> = feed[1..]
        .iter()
        .map(|e| {
            (
                e.cid.as_str(),
                e.revoked_at,
                e.revoked_by.as_str(),
                e.reason.as_str(),
            )
        })
        .collect();
    let expected: Vec<_> = cids
        .iter()
        .map(|cid| (cid.as_str(), T0 + 100, "owner", "device removed"))
        .collect();
    assert_eq!(removed, expected);
    assert!(feed[1..].iter().all(|e| e.record.is_none()));
    let twice = s.revoke(&revocation(&cids[0], T0 + 200, None), &[]).await;
    assert_eq!(twice.unwrap(), None);
}

pub async fn readers_never_skip_a_cursor(db: TestDb) {
    let s = db.store();
    let writers: Vec<_> = (0..20)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                let cid = format!("bafy-{i}");
                let audit = [event(T0 + i, kind::REVOCATION, &cid)];
                s.revoke(&revocation(&cid, T0 + i, None), &audit).await
            })
        })
        .collect();
    // A reader follows the feed by cursor while the writers commit, until a read that
    // started after every writer had finished finds nothing more.
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (s, done) = (s.clone(), done.clone());
        tokio::spawn(async move {
            let mut seen: Vec<RevokedEntry> = Vec::new();
            loop {
                let finished = done.load(Ordering::SeqCst);
                let after = seen.last().map_or(0, |e| e.cursor);
                let page = s.revocations_after(after, 3).await.unwrap();
                assert!(page.iter().all(|e| e.cursor > after));
                if page.is_empty() {
                    if finished {
                        return seen;
                    }
                    tokio::task::yield_now().await;
                }
                seen.extend(page);
            }
        })
    };
    let mut cursors = BTreeSet::new();
    for writer in writers {
        assert!(cursors.insert(writer.await.unwrap().unwrap().unwrap()));
    }
    done.store(true, Ordering::SeqCst);
    let seen = reader.await.unwrap();
    assert_eq!(seen.len(), 20, "the reader skipped an entry");
    assert!(seen.windows(2).all(|w| w[0].cursor < w[1].cursor));
    assert_eq!(
        seen.iter().map(|e| e.cursor).collect::<BTreeSet<_>>(),
        cursors
    );
    assert_eq!(s.revocations_after(0, 0).await.unwrap(), seen);
    let all = all_entries(&*s).await;
    assert_eq!(all.len(), 20);
    assert_chain(&all);
}

pub async fn tokens_are_recorded_and_listed(db: TestDb) {
    let s = db.store();
    assert_eq!(s.token("bafy-t1").await.unwrap(), None);
    let t1 = token("bafy-t1", "issued", 10, T0);
    let mut t2 = token("bafy-t2", "auto", 10, T0 + 10);
    t2.expires_at = None;
    t2.request_id = None;
    let t3 = token("bafy-t3", "issued", 11, T0 + 20);
    let t4 = token("bafy-t4", "issued", 10, T0 + 30);
    let standing = token("bafy-s1", "standing", 10, T0 + 40);
    s.add_tokens(&[t1.clone(), t2.clone(), t3.clone()])
        .await
        .unwrap();
    s.add_tokens(&[t4.clone(), standing.clone()]).await.unwrap();
    // Idempotent by CID: a second record of a CID leaves the first as it was.
    let changed = token("bafy-t1", "auto", 12, T0 + 99);
    s.add_tokens(&[changed, t1.clone()]).await.unwrap();
    assert_eq!(s.token("bafy-t1").await.unwrap(), Some(t1.clone()));
    assert_eq!(s.token("bafy-s1").await.unwrap(), Some(standing));

    let cids = |list: Vec<countersign_server::store::TokenRecord>| {
        list.into_iter().map(|t| t.cid).collect::<Vec<_>>()
    };
    let all = s.list_tokens(None, None).await.unwrap();
    assert_eq!(all, [t4.clone(), t3.clone(), t2.clone(), t1.clone()]);
    let of_10 = s.list_tokens(Some(&did(10)), None).await.unwrap();
    assert_eq!(cids(of_10), ["bafy-t4", "bafy-t2", "bafy-t1"]);
    assert!(
        s.list_tokens(Some(&did(99)), None)
            .await
            .unwrap()
            .is_empty()
    );

    // Revoked: the record says when; live listings leave it out, as they do expired ones.
    s.revoke(&revocation("bafy-t4", T0 + 35, None), &[])
        .await
        .unwrap();
    let revoked = s.token("bafy-t4").await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(T0 + 35));
    let live = s.list_tokens(Some(&did(10)), Some(T0 + 299)).await.unwrap();
    assert_eq!(cids(live), ["bafy-t2", "bafy-t1"]);
    let later = s.list_tokens(None, Some(T0 + 300)).await.unwrap();
    assert_eq!(cids(later), ["bafy-t3", "bafy-t2"]);
    let never_expiring = s.list_tokens(None, Some(T0 + 1_000_000)).await.unwrap();
    assert_eq!(cids(never_expiring), ["bafy-t2"]);
    let with_revoked = s.list_tokens(Some(&did(10)), None).await.unwrap();
    assert_eq!(with_revoked[0].revoked_at, Some(T0 + 35));
}

pub async fn approvals_record_their_tokens(db: TestDb) {
    let s = db.store();
    s.create_request(&request("r1", 10, T0), NO_LIMITS, &[])
        .await
        .unwrap();
    let approved = approval(T0 + 5);
    s.approve("r1", &approved, &[]).await.unwrap();
    for record in &approved.tokens {
        assert_eq!(s.token(&record.cid).await.unwrap().as_ref(), Some(record));
    }
    let issued = s.list_tokens(None, None).await.unwrap();
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].cid, approved.issued_cid);
    assert_eq!(issued[0].kind, "issued");

    // A decision that fails records nothing.
    s.create_request(&request("r2", 10, T0), NO_LIMITS, &[])
        .await
        .unwrap();
    s.deny("r2", &super::fixtures::denial(T0 + 1), &[])
        .await
        .unwrap();
    let mut other = approval(T0 + 6);
    other.tokens = vec![token("bafy-never", "issued", 10, T0 + 6)];
    assert!(s.approve("r2", &other, &[]).await.is_err());
    assert_eq!(s.token("bafy-never").await.unwrap(), None);
}
