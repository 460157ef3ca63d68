//! Store cases for the owner's controls and the lookups behind limits and merging: counts,
//! identical pending requests, auto-approvals, quorum rules and partial approvals.

use countersign_server::store::{
    AutoApproval, PartialApproval, QuorumRule, RequestState, Store, StoreError,
};
use serde_json::json;

use super::fixtures::{NO_LIMITS, REQUEST_TTL, T0, TestDb, approval, denial, did, request};

async fn state(s: &dyn Store, id: &str) -> (RequestState, Option<i64>) {
    let r = s.request(id).await.unwrap().unwrap();
    (r.state, r.decided_at)
}

pub async fn denial_and_pending_counts(db: TestDb) {
    let s = db.store();
    for (id, agent, at) in [
        ("r1", 10, T0),
        ("r2", 10, T0),
        ("r3", 10, T0),
        ("r4", 11, T0),
        ("r5", 10, T0 + 100),
        ("r6", 11, T0 + 100),
    ] {
        s.create_request(&request(id, agent, at), NO_LIMITS, &[])
            .await
            .unwrap();
    }
    assert_eq!(s.count_pending(T0).await.unwrap(), 6);
    s.deny("r1", &denial(T0 + 10), &[]).await.unwrap();
    s.deny("r2", &denial(T0 + 20), &[]).await.unwrap();
    s.deny("r4", &denial(T0 + 20), &[]).await.unwrap();
    s.approve("r3", &approval(T0 + 30), &[]).await.unwrap();
    s.withdraw("r5", &did(10), T0 + 110, &[]).await.unwrap();

    assert_eq!(s.count_denials(&did(10), T0).await.unwrap(), 2);
    assert_eq!(s.count_denials(&did(10), T0 + 11).await.unwrap(), 1);
    assert_eq!(s.count_denials(&did(10), T0 + 20).await.unwrap(), 1);
    assert_eq!(s.count_denials(&did(10), T0 + 21).await.unwrap(), 0);
    assert_eq!(s.count_denials(&did(11), T0).await.unwrap(), 1);
    assert_eq!(s.count_denials(&did(99), T0).await.unwrap(), 0);

    assert_eq!(s.count_pending(T0 + 110).await.unwrap(), 1);
    // r6 is unexpired until T0 + 100 + REQUEST_TTL.
    assert_eq!(
        s.count_pending(T0 + 100 + REQUEST_TTL - 1).await.unwrap(),
        1
    );
    assert_eq!(s.count_pending(T0 + 100 + REQUEST_TTL).await.unwrap(), 0);
}

pub async fn identical_pending_requests_are_found(db: TestDb) {
    let s = db.store();
    let first = request("r1", 10, T0);
    s.create_request(&first, NO_LIMITS, &[]).await.unwrap();
    let second = request("r2", 10, T0 + 5);
    s.create_request(&second, NO_LIMITS, &[]).await.unwrap();
    let asked = request("new", 10, T0 + 10);
    // The newest of the identical ones.
    let found = s.find_identical_pending(&asked, T0 + 10).await.unwrap();
    assert_eq!(found, Some(second.clone()));
    // Reason, code, lifetime and diff do not matter.
    let mut reworded = asked.clone();
    reworded.reason = "again".to_owned();
    reworded.code = "77".to_owned();
    reworded.lifetime = 60;
    reworded.diff = Some(json!({"text": "x"}));
    assert_eq!(
        s.find_identical_pending(&reworded, T0 + 10).await.unwrap(),
        Some(second)
    );

    let differs: [fn(&mut countersign_server::store::Request); 5] = [
        |r| r.agent_did = super::fixtures::did(11),
        |r| r.command = super::fixtures::cmd("/payment"),
        |r| r.args = Some(json!({"charge": "ch_2", "amount": 4900, "currency": "usd"})),
        |r| r.policy = json!([]),
        |r| r.summary = "Refund $48.00".to_owned(),
    ];
    for change in differs {
        let mut other = asked.clone();
        change(&mut other);
        assert_eq!(
            s.find_identical_pending(&other, T0 + 10).await.unwrap(),
            None
        );
    }
    let mut no_args = asked.clone();
    no_args.args = None;
    assert_eq!(
        s.find_identical_pending(&no_args, T0 + 10).await.unwrap(),
        None
    );

    // Only pending, unexpired requests count.
    s.deny("r2", &denial(T0 + 20), &[]).await.unwrap();
    let found = s.find_identical_pending(&asked, T0 + 20).await.unwrap();
    assert_eq!(found.map(|r| r.id), Some("r1".to_owned()));
    assert_eq!(
        s.find_identical_pending(&asked, T0 + REQUEST_TTL)
            .await
            .unwrap(),
        None
    );

    // Requests without args match each other.
    let mut bare = request("r3", 10, T0 + 30);
    bare.args = None;
    s.create_request(&bare, NO_LIMITS, &[]).await.unwrap();
    assert_eq!(
        s.find_identical_pending(&no_args, T0 + 30).await.unwrap(),
        Some(bare)
    );
}

fn auto(cid: &str, expires_at: i64) -> AutoApproval {
    AutoApproval {
        cid: cid.to_owned(),
        command: "/email/send".to_owned(),
        bytes: format!("delegation {cid}").into_bytes(),
        created_at: T0,
        expires_at,
        removed_at: None,
    }
}

pub async fn auto_approval_lifecycle(db: TestDb) {
    let s = db.store();
    assert!(s.auto_approvals(T0).await.unwrap().is_empty());
    let (short, long) = (auto("bafy-short", T0 + 60), auto("bafy-long", T0 + 600));
    s.add_auto_approval(&short, &[]).await.unwrap();
    s.add_auto_approval(&long, &[]).await.unwrap();
    let dup = s.add_auto_approval(&short, &[]).await;
    assert!(matches!(dup, Err(StoreError::AlreadyExists)));
    assert_eq!(
        s.auto_approvals(T0).await.unwrap(),
        [long.clone(), short.clone()]
    );
    assert_eq!(s.auto_approvals(T0 + 60).await.unwrap(), [long]);

    s.remove_auto_approval("bafy-long", T0 + 10, &[])
        .await
        .unwrap();
    assert_eq!(s.auto_approvals(T0 + 10).await.unwrap(), [short]);
    let again = s.remove_auto_approval("bafy-long", T0 + 11, &[]).await;
    assert!(matches!(again, Err(StoreError::NotFound)));
    let unknown = s.remove_auto_approval("bafy-none", T0 + 11, &[]).await;
    assert!(matches!(unknown, Err(StoreError::NotFound)));
    assert!(s.auto_approvals(T0 + 60).await.unwrap().is_empty());
}

pub async fn quorum_rules_crud(db: TestDb) {
    let s = db.store();
    assert!(s.quorum_rules().await.unwrap().is_empty());
    let always = QuorumRule {
        id: "q1".to_owned(),
        command: "/payment".to_owned(),
        when: json!([]),
        approvals: 2,
        created_at: T0 + 1,
    };
    let large = QuorumRule {
        id: "q2".to_owned(),
        command: "/payment/refund".to_owned(),
        when: json!([[">", ".amount", 100_000], ["like", ".memo", "*é*"]]),
        approvals: 3,
        created_at: T0,
    };
    s.add_quorum_rule(&always, &[]).await.unwrap();
    s.add_quorum_rule(&large, &[]).await.unwrap();
    let dup = s.add_quorum_rule(&always, &[]).await;
    assert!(matches!(dup, Err(StoreError::AlreadyExists)));
    assert_eq!(
        s.quorum_rules().await.unwrap(),
        [large.clone(), always.clone()]
    );
    s.remove_quorum_rule("q2", &[]).await.unwrap();
    let again = s.remove_quorum_rule("q2", &[]).await;
    assert!(matches!(again, Err(StoreError::NotFound)));
    assert_eq!(s.quorum_rules().await.unwrap(), [always]);
}

fn partial(request_id: &str, device: u8, at: i64) -> PartialApproval {
    PartialApproval {
        request_id: request_id.to_owned(),
        device: did(device),
        envelope: format!("approval by {device}").into_bytes(),
        standing: format!("standing of {device}").into_bytes(),
        at,
    }
}

fn not_pending<T>(result: Result<T, StoreError>) -> Option<RequestState> {
    match result {
        Err(StoreError::NotPending(state)) => Some(state),
        _ => None,
    }
}

pub async fn partial_approvals_one_per_device(db: TestDb) {
    let s = db.store();
    for id in ["r1", "r2", "r3"] {
        s.create_request(&request(id, 10, T0), NO_LIMITS, &[])
            .await
            .unwrap();
    }
    let first = partial("r1", 2, T0 + 1);
    assert_eq!(
        s.add_partial_approval(&first, &[]).await.unwrap(),
        std::slice::from_ref(&first)
    );
    let repeat = s.add_partial_approval(&partial("r1", 2, T0 + 2), &[]).await;
    assert!(matches!(repeat, Err(StoreError::AlreadyExists)));
    let second = partial("r1", 3, T0 + 3);
    let all = s.add_partial_approval(&second, &[]).await.unwrap();
    assert_eq!(all, [first.clone(), second.clone()]);
    // Each request has its own.
    let other = partial("r2", 2, T0 + 4);
    assert_eq!(s.add_partial_approval(&other, &[]).await.unwrap(), [other]);
    let unknown = s.add_partial_approval(&partial("r9", 2, T0), &[]).await;
    assert!(matches!(unknown, Err(StoreError::NotFound)));

    // Once decided, or once its time is up, a request takes no more approvals.
    s.approve("r1", &approval(T0 + 5), &[]).await.unwrap();
    let after = s.add_partial_approval(&partial("r1", 4, T0 + 6), &[]).await;
    assert_eq!(not_pending(after), Some(RequestState::Approved));
    s.deny("r2", &denial(T0 + 5), &[]).await.unwrap();
    let after = s.add_partial_approval(&partial("r2", 4, T0 + 6), &[]).await;
    assert_eq!(not_pending(after), Some(RequestState::Denied));
    let due = T0 + REQUEST_TTL;
    let late = s.add_partial_approval(&partial("r3", 2, due), &[]).await;
    assert_eq!(not_pending(late), Some(RequestState::Expired));
    assert_eq!(state(&*s, "r3").await, (RequestState::Expired, Some(due)));
}

pub async fn racing_partial_approvals_one_per_device(db: TestDb) {
    let s = db.store();
    s.create_request(&request("r1", 10, T0), NO_LIMITS, &[])
        .await
        .unwrap();
    let attempts: Vec<_> = (0..20u8)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                s.add_partial_approval(&partial("r1", 2 + i % 4, T0 + 1), &[])
                    .await
            })
        })
        .collect();
    let mut added = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(list) => {
                added += 1;
                assert!(list.len() <= 4);
            }
            Err(e) => assert!(matches!(e, StoreError::AlreadyExists), "{e:?}"),
        }
    }
    assert_eq!(added, 4);
}
