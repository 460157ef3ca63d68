//! Store cases for requests: creation under limits, listing, decisions, races, expiry.

use countersign_server::store::{CreateLimits, RequestFilter, RequestState, StoreError};
use serde_json::json;

use super::fixtures::{NO_LIMITS, REQUEST_TTL, T0, TestDb, approval, denial, did, request, tokens};

fn not_pending<T>(result: Result<T, StoreError>) -> Option<RequestState> {
    match result {
        Err(StoreError::NotPending(state)) => Some(state),
        _ => None,
    }
}

fn not_found<T>(result: Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::NotFound))
}

fn ids(list: &[countersign_server::store::Request]) -> Vec<&str> {
    list.iter().map(|r| r.id.as_str()).collect()
}

pub async fn requests_create_get_list(db: TestDb) {
    let s = db.store();
    for (id, agent, at) in [("r1", 10, T0), ("r2", 11, T0 + 1), ("r3", 10, T0 + 2)] {
        s.create_request(&request(id, agent, at), NO_LIMITS, &[])
            .await
            .unwrap();
    }
    // Same second as r3: the later insert lists first.
    s.create_request(&request("r4", 10, T0 + 2), NO_LIMITS, &[])
        .await
        .unwrap();
    assert_eq!(s.request("r1").await.unwrap(), Some(request("r1", 10, T0)));
    assert_eq!(s.request("nope").await.unwrap(), None);
    let dup = s
        .create_request(&request("r1", 10, T0 + 3), NO_LIMITS, &[])
        .await;
    assert!(matches!(dup, Err(StoreError::AlreadyExists)));
    s.approve("r3", &approval(T0 + 5), &[]).await.unwrap();

    let list = |state, agent, limit| {
        let s = s.clone();
        async move {
            let filter = RequestFilter {
                state,
                agent_did: agent,
                limit,
            };
            s.list_requests(&filter).await.unwrap()
        }
    };
    let all = list(None, None, 0).await;
    assert_eq!(ids(&all), ["r4", "r3", "r2", "r1"]);
    assert_eq!(all[1].state, RequestState::Approved);
    let pending = list(Some(RequestState::Pending), None, 0).await;
    assert_eq!(ids(&pending), ["r4", "r2", "r1"]);
    let approved = list(Some(RequestState::Approved), None, 0).await;
    assert_eq!(ids(&approved), ["r3"]);
    let of_agent = list(None, Some(did(10)), 0).await;
    assert_eq!(ids(&of_agent), ["r4", "r3", "r1"]);
    let both = list(Some(RequestState::Pending), Some(did(10)), 0).await;
    assert_eq!(ids(&both), ["r4", "r1"]);
    assert_eq!(ids(&list(None, None, 2).await), ["r4", "r3"]);
    assert!(list(Some(RequestState::Denied), None, 0).await.is_empty());
}

pub async fn json_fields_round_trip(db: TestDb) {
    let s = db.store();
    let mut full = request("r1", 10, T0);
    full.args = Some(json!({"nested": {"list": [1, 2.5, -3, null, true]}, "text": "é ✓ \"q\""}));
    full.policy = json!([["any", ".items", ["like", ".name", "*\\*"]]]);
    full.diff = Some(json!({"fields": [{"name": "amount", "to": 4900}], "text": "Refund"}));
    full.lifetime = u64::from(u32::MAX) + 1;
    let mut bare = request("r2", 10, T0);
    bare.args = None;
    bare.diff = None;
    for r in [&full, &bare] {
        s.create_request(r, NO_LIMITS, &[]).await.unwrap();
        assert_eq!(s.request(&r.id).await.unwrap().as_ref(), Some(r));
    }
}

pub async fn max_pending_limit(db: TestDb) {
    let s = db.store();
    let limits = CreateLimits {
        max_pending: 2,
        rate_per_min: 100,
    };
    s.create_request(&request("r1", 10, T0), limits, &[])
        .await
        .unwrap();
    s.create_request(&request("r2", 10, T0), limits, &[])
        .await
        .unwrap();
    let third = s.create_request(&request("r3", 10, T0), limits, &[]).await;
    assert!(matches!(third, Err(StoreError::TooManyPending)));
    assert_eq!(s.request("r3").await.unwrap(), None);
    // Other agents have their own count.
    s.create_request(&request("o1", 11, T0), limits, &[])
        .await
        .unwrap();

    // Decided requests no longer count.
    s.deny("r1", &denial(T0 + 1), &[]).await.unwrap();
    s.create_request(&request("r3", 10, T0 + 1), limits, &[])
        .await
        .unwrap();
    let fourth = s
        .create_request(&request("r4", 10, T0 + 1), limits, &[])
        .await;
    assert!(matches!(fourth, Err(StoreError::TooManyPending)));

    // Nor do requests whose time is up, even before they are marked expired.
    let later = T0 + REQUEST_TTL;
    s.create_request(&request("r4", 10, later), limits, &[])
        .await
        .unwrap();
    let fifth = s
        .create_request(&request("r5", 10, later), limits, &[])
        .await;
    assert!(matches!(fifth, Err(StoreError::TooManyPending)));
}

pub async fn rate_limit(db: TestDb) {
    let s = db.store();
    let limits = CreateLimits {
        max_pending: 100,
        rate_per_min: 3,
    };
    for (id, at) in [("r1", T0), ("r2", T0 + 10), ("r3", T0 + 20)] {
        s.create_request(&request(id, 10, at), limits, &[])
            .await
            .unwrap();
    }
    let fourth = s
        .create_request(&request("r4", 10, T0 + 30), limits, &[])
        .await;
    assert!(matches!(fourth, Err(StoreError::RateLimited)));
    assert_eq!(s.request("r4").await.unwrap(), None);
    s.create_request(&request("o1", 11, T0 + 30), limits, &[])
        .await
        .unwrap();

    // A minute after r1, it has left the window; decided requests still count.
    s.withdraw("r2", &did(10), T0 + 40, &[]).await.unwrap();
    s.create_request(&request("r4", 10, T0 + 60), limits, &[])
        .await
        .unwrap();
    let sixth = s
        .create_request(&request("r5", 10, T0 + 60), limits, &[])
        .await;
    assert!(matches!(sixth, Err(StoreError::RateLimited)));
}

pub async fn decisions_only_from_pending(db: TestDb) {
    let s = db.store();
    for id in ["r1", "r2", "r3"] {
        s.create_request(&request(id, 10, T0), NO_LIMITS, &[])
            .await
            .unwrap();
    }

    let approved = s.approve("r1", &approval(T0 + 10), &[]).await.unwrap();
    let expected = countersign_server::store::Request {
        state: RequestState::Approved,
        decided_at: Some(T0 + 10),
        decided_by: Some(did(2)),
        evidence: Some(approval(T0 + 10).envelope),
        chain: tokens(),
        ..request("r1", 10, T0)
    };
    assert_eq!(approved, expected);
    assert_eq!(s.request("r1").await.unwrap(), Some(expected));
    let approved_state = Some(RequestState::Approved);
    assert_eq!(
        not_pending(s.approve("r1", &approval(T0 + 11), &[]).await),
        approved_state
    );
    assert_eq!(
        not_pending(s.deny("r1", &denial(T0 + 11), &[]).await),
        approved_state
    );
    assert_eq!(
        not_pending(s.withdraw("r1", &did(10), T0 + 11, &[]).await),
        approved_state
    );

    let denied = s.deny("r2", &denial(T0 + 20), &[]).await.unwrap();
    let expected = countersign_server::store::Request {
        state: RequestState::Denied,
        decided_at: Some(T0 + 20),
        decided_by: Some(did(2)),
        denial_reason: Some("not this one".to_owned()),
        evidence: Some(denial(T0 + 20).statement),
        ..request("r2", 10, T0)
    };
    assert_eq!(denied, expected);
    assert_eq!(s.request("r2").await.unwrap(), Some(expected));
    let denied_state = Some(RequestState::Denied);
    assert_eq!(
        not_pending(s.approve("r2", &approval(T0 + 21), &[]).await),
        denied_state
    );

    // Only its own agent may withdraw a request; to others it does not exist.
    assert!(not_found(s.withdraw("r3", &did(11), T0 + 30, &[]).await));
    let withdrawn = s.withdraw("r3", &did(10), T0 + 30, &[]).await.unwrap();
    assert_eq!(withdrawn.state, RequestState::Withdrawn);
    assert_eq!(
        (withdrawn.decided_at, withdrawn.decided_by),
        (Some(T0 + 30), None)
    );
    let withdrawn_state = Some(RequestState::Withdrawn);
    assert_eq!(
        not_pending(s.approve("r3", &approval(T0 + 31), &[]).await),
        withdrawn_state
    );

    assert!(not_found(s.approve("r9", &approval(T0), &[]).await));
    assert!(not_found(s.deny("r9", &denial(T0), &[]).await));
    assert!(not_found(s.withdraw("r9", &did(10), T0, &[]).await));
}

pub async fn decisions_after_expiry(db: TestDb) {
    let s = db.store();
    for id in ["r1", "r2", "r3"] {
        s.create_request(&request(id, 10, T0), NO_LIMITS, &[])
            .await
            .unwrap();
    }
    let due = T0 + REQUEST_TTL;
    let expired = Some(RequestState::Expired);
    assert_eq!(
        not_pending(s.approve("r1", &approval(due), &[]).await),
        expired
    );
    let r1 = s.request("r1").await.unwrap().unwrap();
    assert_eq!(
        (r1.state, r1.decided_at),
        (RequestState::Expired, Some(due))
    );
    assert_eq!(
        (r1.decided_by, r1.evidence, r1.chain.len()),
        (None, None, 0)
    );
    assert_eq!(
        not_pending(s.approve("r1", &approval(due + 1), &[]).await),
        expired
    );

    assert_eq!(
        not_pending(s.deny("r2", &denial(due + 100), &[]).await),
        expired
    );
    assert_eq!(
        not_pending(s.withdraw("r3", &did(10), due + 1, &[]).await),
        expired
    );
    for id in ["r2", "r3"] {
        let state = s.request(id).await.unwrap().unwrap().state;
        assert_eq!(state, RequestState::Expired);
    }
    assert!(s.expire_due(due + 1000).await.unwrap().is_empty());
}

pub async fn racing_decisions_have_one_winner(db: TestDb) {
    let s = db.store();
    for round in 0..5 {
        let id = format!("r{round}");
        s.create_request(&request(&id, 10, T0), NO_LIMITS, &[])
            .await
            .unwrap();
        let attempts: Vec<_> = (0..20)
            .map(|i| {
                let (s, id) = (s.clone(), id.clone());
                tokio::spawn(async move {
                    if (i + round) % 2 == 0 {
                        s.approve(&id, &approval(T0 + 10), &[])
                            .await
                            .map(|r| r.state)
                    } else {
                        s.deny(&id, &denial(T0 + 10), &[]).await.map(|r| r.state)
                    }
                })
            })
            .collect();
        let mut results = Vec::new();
        for attempt in attempts {
            results.push(attempt.await.unwrap());
        }
        let final_state = s.request(&id).await.unwrap().unwrap().state;
        let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(winners, [&final_state], "round {round}: {results:?}");
        for result in results.into_iter().filter(Result::is_err) {
            assert_eq!(not_pending(result), Some(final_state));
        }
    }
}

pub async fn racing_creations_respect_limits(db: TestDb) {
    let s = db.store();
    let limits = CreateLimits {
        max_pending: 5,
        rate_per_min: 100,
    };
    let attempts: Vec<_> = (0..20)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                s.create_request(&request(&format!("r{i}"), 10, T0), limits, &[])
                    .await
            })
        })
        .collect();
    let mut created = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(()) => created += 1,
            Err(e) => assert!(matches!(e, StoreError::TooManyPending), "{e:?}"),
        }
    }
    assert_eq!(created, 5);
    let filter = RequestFilter {
        agent_did: Some(did(10)),
        ..RequestFilter::default()
    };
    assert_eq!(s.list_requests(&filter).await.unwrap().len(), 5);
}

pub async fn expire_due_marks_due_requests(db: TestDb) {
    let s = db.store();
    for (id, at) in [("r1", T0), ("r2", T0 + 100), ("r3", T0), ("r4", T0 + 50)] {
        s.create_request(&request(id, 10, at), NO_LIMITS, &[])
            .await
            .unwrap();
    }
    s.approve("r3", &approval(T0 + 10), &[]).await.unwrap();

    assert!(s.expire_due(T0 + REQUEST_TTL - 1).await.unwrap().is_empty());
    let mut expired = s.expire_due(T0 + REQUEST_TTL + 50).await.unwrap();
    expired.sort();
    assert_eq!(expired, ["r1", "r4"]);
    let r1 = s.request("r1").await.unwrap().unwrap();
    assert_eq!(
        (r1.state, r1.decided_at),
        (RequestState::Expired, Some(T0 + REQUEST_TTL + 50))
    );
    let r3 = s.request("r3").await.unwrap().unwrap();
    assert_eq!(r3.state, RequestState::Approved);
    assert!(
        s.expire_due(T0 + REQUEST_TTL + 50)
            .await
            .unwrap()
            .is_empty()
    );

    // r2 is still pending until its own time is up.
    let r2 = s
        .approve("r2", &approval(T0 + 100 + REQUEST_TTL - 1), &[])
        .await;
    assert_eq!(r2.unwrap().state, RequestState::Approved);
}
