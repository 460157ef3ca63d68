//! Store cases for what changes write to the audit log: each its own events, in order;
//! a failed change nothing; expiry its `request.expired` entries.

use countersign_server::audit::{GENESIS, hex, kind};
use countersign_server::store::{
    AutoApproval, CreateLimits, KillTarget, PartialApproval, QuorumRule, RequestState, Store,
    StoreError,
};
use serde_json::json;

use super::audit::{all_entries, assert_chain};
use super::fixtures::{
    NO_LIMITS, REQUEST_TTL, T0, TestDb, agent, approval, code_hash, denial, device, did, event,
    pairing, request, revocation, tokens,
};

/// The (kind, subject) of every entry, in order.
async fn kinds(s: &dyn Store) -> Vec<(String, String)> {
    let all = all_entries(s).await;
    assert_chain(&all);
    all.into_iter().map(|e| (e.kind, e.subject)).collect()
}

pub async fn changes_append_their_events(db: TestDb) {
    let s = db.store();
    let e = |k: &str, subject: &str| event(T0, k, subject);
    s.add_agent(&agent("billing", 10), &[e(kind::AGENT_ADDED, "billing")])
        .await
        .unwrap();
    s.create_pairing(&pairing("p1", "code", T0 + 600))
        .await
        .unwrap();
    s.claim_pairing(&code_hash("code"), &did(2), "phone", T0)
        .await
        .unwrap();
    let phone = device("d1", 2, tokens()[..1].to_vec());
    s.confirm_pairing("p1", &phone, &[e(kind::DEVICE_PAIRED, "d1")])
        .await
        .unwrap();
    for id in ["r1", "r2", "r3", "r4"] {
        let created = e(kind::REQUEST_CREATED, id);
        s.create_request(&request(id, 10, T0), NO_LIMITS, &[created])
            .await
            .unwrap();
    }
    let decided = [e(kind::APPROVAL, "r1"), e(kind::ISSUANCE, "r1")];
    s.approve("r1", &approval(T0 + 1), &decided).await.unwrap();
    s.deny("r2", &denial(T0 + 1), &[e(kind::DENIAL, "r2")])
        .await
        .unwrap();
    let withdrawn = [e(kind::REQUEST_WITHDRAWN, "r3")];
    s.withdraw("r3", &did(10), T0 + 1, &withdrawn)
        .await
        .unwrap();
    let partial = PartialApproval {
        request_id: "r4".to_owned(),
        device: did(2),
        envelope: b"envelope".to_vec(),
        standing: tokens()[0].clone(),
        at: T0 + 1,
    };
    s.add_partial_approval(&partial, &[e(kind::APPROVAL, "r4")])
        .await
        .unwrap();
    let entry = revocation("bafy-x", T0, None);
    s.revoke(&entry, &[e(kind::REVOCATION, "bafy-x")])
        .await
        .unwrap();
    s.suspend_agent(&did(10), T0, &[e(kind::AGENT_SUSPENDED, "billing")])
        .await
        .unwrap();
    s.resume_agent("billing", &[e(kind::AGENT_ADDED, "billing")])
        .await
        .unwrap();
    let target = KillTarget::Agent(did(10));
    s.kill(target, T0 + 2, &[e(kind::KILL, "billing")])
        .await
        .unwrap();
    s.lift_kill(target, &[e(kind::KILL_LIFTED, "billing")])
        .await
        .unwrap();
    let auto = AutoApproval {
        cid: "bafy-auto".to_owned(),
        command: "/email".to_owned(),
        bytes: b"auto".to_vec(),
        created_at: T0,
        expires_at: T0 + 600,
        removed_at: None,
    };
    s.add_auto_approval(&auto, &[e(kind::AUTO_APPROVAL, "bafy-auto")])
        .await
        .unwrap();
    let removed = [e(kind::REVOCATION, "bafy-auto")];
    s.remove_auto_approval("bafy-auto", T0 + 3, &removed)
        .await
        .unwrap();
    let rule = QuorumRule {
        id: "q1".to_owned(),
        command: "/payment".to_owned(),
        when: json!([]),
        approvals: 2,
        created_at: T0,
    };
    s.add_quorum_rule(&rule, &[e(kind::RECEIPT, "q1")])
        .await
        .unwrap();
    s.remove_quorum_rule("q1", &[e(kind::RECEIPT, "q1")])
        .await
        .unwrap();
    s.remove_device("d1", T0 + 4, &[e(kind::DEVICE_REMOVED, "d1")])
        .await
        .unwrap();
    s.remove_agent("billing", &[e(kind::AGENT_REMOVED, "billing")])
        .await
        .unwrap();

    let expected = [
        (kind::AGENT_ADDED, "billing"),
        (kind::DEVICE_PAIRED, "d1"),
        (kind::REQUEST_CREATED, "r1"),
        (kind::REQUEST_CREATED, "r2"),
        (kind::REQUEST_CREATED, "r3"),
        (kind::REQUEST_CREATED, "r4"),
        (kind::APPROVAL, "r1"),
        (kind::ISSUANCE, "r1"),
        (kind::DENIAL, "r2"),
        (kind::REQUEST_WITHDRAWN, "r3"),
        (kind::APPROVAL, "r4"),
        (kind::REVOCATION, "bafy-x"),
        (kind::AGENT_SUSPENDED, "billing"),
        (kind::AGENT_ADDED, "billing"),
        (kind::KILL, "billing"),
        (kind::KILL_LIFTED, "billing"),
        (kind::AUTO_APPROVAL, "bafy-auto"),
        (kind::REVOCATION, "bafy-auto"),
        (kind::RECEIPT, "q1"),
        (kind::RECEIPT, "q1"),
        (kind::DEVICE_REMOVED, "d1"),
        (kind::AGENT_REMOVED, "billing"),
    ]
    .map(|(k, subject)| (k.to_owned(), subject.to_owned()));
    assert_eq!(kinds(&*s).await, expected);
}

pub async fn failed_changes_append_nothing(db: TestDb) {
    let s = db.store();
    let e = [event(T0, kind::RECEIPT, "must not appear")];
    s.add_agent(&agent("billing", 10), &[]).await.unwrap();
    s.create_request(&request("r1", 10, T0), NO_LIMITS, &[])
        .await
        .unwrap();
    s.create_request(&request("r2", 10, T0), NO_LIMITS, &[])
        .await
        .unwrap();
    s.approve("r1", &approval(T0 + 1), &[]).await.unwrap();
    s.revoke(&revocation("bafy-x", T0, None), &[])
        .await
        .unwrap();
    s.create_pairing(&pairing("p1", "code", T0 + 600))
        .await
        .unwrap();
    let full = CreateLimits {
        max_pending: 1,
        rate_per_min: 100,
    };
    let phone = device("d1", 2, tokens()[..1].to_vec());
    let partial = PartialApproval {
        request_id: "r1".to_owned(),
        device: did(2),
        envelope: b"envelope".to_vec(),
        standing: tokens()[0].clone(),
        at: T0 + 2,
    };

    let failures: Vec<StoreError> = vec![
        s.add_agent(&agent("billing", 11), &e).await.unwrap_err(),
        s.remove_agent("nobody", &e).await.unwrap_err(),
        s.create_request(&request("r1", 10, T0), NO_LIMITS, &e)
            .await
            .unwrap_err(),
        s.create_request(&request("r3", 10, T0), full, &e)
            .await
            .unwrap_err(),
        s.approve("r1", &approval(T0 + 2), &e).await.unwrap_err(),
        s.deny("r1", &denial(T0 + 2), &e).await.unwrap_err(),
        s.deny("r9", &denial(T0 + 2), &e).await.unwrap_err(),
        s.withdraw("r2", &did(11), T0 + 2, &e).await.unwrap_err(),
        s.confirm_pairing("p1", &phone, &e).await.unwrap_err(),
        s.remove_device("d9", T0, &e).await.unwrap_err(),
        s.suspend_agent(&did(99), T0, &e).await.unwrap_err(),
        s.resume_agent("nobody", &e).await.unwrap_err(),
        s.remove_auto_approval("bafy-none", T0, &e)
            .await
            .unwrap_err(),
        s.remove_quorum_rule("q9", &e).await.unwrap_err(),
        s.add_partial_approval(&partial, &e).await.unwrap_err(),
    ];
    for failure in &failures {
        assert!(!matches!(failure, StoreError::Database(_)), "{failure:?}");
    }
    // Revoking again changes nothing, so it appends nothing.
    assert_eq!(
        s.revoke(&revocation("bafy-x", T0, None), &e).await.unwrap(),
        None
    );
    assert_eq!(s.audit_head().await.unwrap(), (0, hex(&GENESIS)));
}

pub async fn expiry_is_audited(db: TestDb) {
    let s = db.store();
    for (id, at) in [("r1", T0), ("r2", T0 + 10), ("r3", T0 + 20), ("r4", T0)] {
        s.create_request(&request(id, 10, at), NO_LIMITS, &[])
            .await
            .unwrap();
    }
    let due = T0 + REQUEST_TTL + 15;
    assert_eq!(s.expire_due(due).await.unwrap(), ["r1", "r4", "r2"]);
    let all = all_entries(&*s).await;
    assert_chain(&all);
    for (e, id) in all.iter().zip(["r1", "r4", "r2"]) {
        assert_eq!(
            (
                e.at,
                e.kind.as_str(),
                e.actor.as_str(),
                e.subject.as_str(),
                &e.data
            ),
            (due, kind::REQUEST_EXPIRED, "service", id, &json!({}))
        );
    }
    assert_eq!(all.len(), 3);

    // A decision that finds the request's time up marks it expired, and the log says so;
    // the decision's own events are not appended.
    let late = T0 + 20 + REQUEST_TTL;
    let tried = s
        .approve("r3", &approval(late), &[event(late, kind::APPROVAL, "r3")])
        .await;
    assert!(matches!(
        tried,
        Err(StoreError::NotPending(RequestState::Expired))
    ));
    let all = all_entries(&*s).await;
    assert_chain(&all);
    assert_eq!(all.len(), 4);
    assert_eq!(
        (all[3].kind.as_str(), all[3].subject.as_str()),
        (kind::REQUEST_EXPIRED, "r3")
    );
    assert!(s.expire_due(late + 1000).await.unwrap().is_empty());
    assert_eq!(s.audit_head().await.unwrap().0, 4);
}
