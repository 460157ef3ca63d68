//! Store cases for stopping agents: the kill switch (an agent's, everyone's, and lifting
//! them) and suspension.

use countersign_server::store::{KillReport, KillTarget, RequestState, Store, StoreError};

use super::fixtures::{
    NO_LIMITS, REQUEST_TTL, T0, TestDb, agent, approval, did, request, revocation, token,
};

async fn state(s: &dyn Store, id: &str) -> (RequestState, Option<i64>) {
    let r = s.request(id).await.unwrap().unwrap();
    (r.state, r.decided_at)
}

async fn revoked(s: &dyn Store) -> Vec<(String, String, String)> {
    let feed = s.revocations_after(0, 0).await.unwrap();
    feed.into_iter()
        .map(|e| (e.cid, e.revoked_by, e.reason))
        .collect()
}

pub async fn kill_agent_touches_only_its_own(db: TestDb) {
    let s = db.store();
    let now = T0 + 100;
    let mut expired = token("bafy-a3", "issued", 10, T0 - 400);
    expired.expires_at = Some(now);
    let tokens = [
        token("bafy-a1", "issued", 10, T0),
        token("bafy-a2", "auto", 10, T0 + 1),
        expired,
        token("bafy-a4", "issued", 10, T0 + 2),
        token("bafy-a5", "standing", 10, T0 + 3),
        token("bafy-b1", "issued", 11, T0),
    ];
    s.add_tokens(&tokens).await.unwrap();
    s.revoke(&revocation("bafy-a4", T0 + 5, None), &[])
        .await
        .unwrap();
    for (id, agent, at) in [
        ("r1", 10, T0),
        ("r2", 10, T0 + 50),
        ("r3", 10, T0),
        ("r4", 11, T0),
    ] {
        s.create_request(&request(id, agent, at), NO_LIMITS, &[])
            .await
            .unwrap();
    }
    // Past its time though not yet marked expired: left for expiry, not cancelled.
    s.create_request(&request("r5", 10, now - REQUEST_TTL), NO_LIMITS, &[])
        .await
        .unwrap();
    s.approve("r3", &approval(T0 + 10), &[]).await.unwrap();
    assert!(!s.is_killed(&did(10)).await.unwrap());

    let report = s.kill(KillTarget::Agent(did(10)), now, &[]).await.unwrap();
    assert_eq!(
        report,
        KillReport {
            tokens_revoked: 2,
            requests_cancelled: 2
        }
    );
    let feed = revoked(&*s).await;
    let by_kill: Vec<_> = feed
        .iter()
        .filter(|(_, _, reason)| reason == "kill switch")
        .collect();
    let expected = ["bafy-a1", "bafy-a2"]
        .map(|cid| (cid.to_owned(), "owner".to_owned(), "kill switch".to_owned()));
    assert_eq!(by_kill, expected.iter().collect::<Vec<_>>());
    for cid in ["bafy-a3", "bafy-a5", "bafy-b1"] {
        assert!(!s.is_revoked(cid).await.unwrap(), "{cid}");
    }
    assert_eq!(
        s.token("bafy-a1").await.unwrap().unwrap().revoked_at,
        Some(now)
    );
    assert_eq!(state(&*s, "r1").await, (RequestState::Cancelled, Some(now)));
    assert_eq!(state(&*s, "r2").await, (RequestState::Cancelled, Some(now)));
    assert_eq!(
        state(&*s, "r3").await,
        (RequestState::Approved, Some(T0 + 10))
    );
    assert_eq!(state(&*s, "r4").await, (RequestState::Pending, None));
    assert_eq!(state(&*s, "r5").await, (RequestState::Pending, None));
    let late = s.approve("r1", &approval(now + 1), &[]).await;
    assert!(matches!(
        late,
        Err(StoreError::NotPending(RequestState::Cancelled))
    ));
    let cancelled = countersign_server::store::RequestFilter {
        state: Some(RequestState::Cancelled),
        ..Default::default()
    };
    assert_eq!(s.list_requests(&cancelled).await.unwrap().len(), 2);

    assert!(s.is_killed(&did(10)).await.unwrap());
    assert!(!s.is_killed(&did(11)).await.unwrap());
    // Pulling it again finds nothing left to do.
    let again = s
        .kill(KillTarget::Agent(did(10)), now + 1, &[])
        .await
        .unwrap();
    assert_eq!(again, KillReport::default());
    s.lift_kill(KillTarget::Agent(did(10)), &[]).await.unwrap();
    assert!(!s.is_killed(&did(10)).await.unwrap());
    // Lifting does not bring anything back.
    assert!(s.is_revoked("bafy-a1").await.unwrap());
    assert_eq!(state(&*s, "r1").await.0, RequestState::Cancelled);
}

pub async fn kill_all_and_lift(db: TestDb) {
    let s = db.store();
    let now = T0 + 100;
    s.add_tokens(&[
        token("bafy-a1", "issued", 10, T0),
        token("bafy-b1", "auto", 11, T0),
        token("bafy-s1", "approval", 11, T0),
    ])
    .await
    .unwrap();
    for (id, agent) in [("r1", 10), ("r2", 11), ("r3", 12)] {
        s.create_request(&request(id, agent, T0), NO_LIMITS, &[])
            .await
            .unwrap();
    }
    s.kill(KillTarget::Agent(did(10)), now, &[]).await.unwrap();
    let report = s.kill(KillTarget::All, now + 1, &[]).await.unwrap();
    assert_eq!(
        report,
        KillReport {
            tokens_revoked: 1,
            requests_cancelled: 2
        }
    );
    assert!(s.is_revoked("bafy-b1").await.unwrap());
    assert!(!s.is_revoked("bafy-s1").await.unwrap());
    for id in ["r1", "r2", "r3"] {
        assert_eq!(state(&*s, id).await.0, RequestState::Cancelled);
    }
    for n in [10, 11, 12, 99] {
        assert!(s.is_killed(&did(n)).await.unwrap(), "agent {n}");
    }
    // Lifting one agent leaves everyone stopped by kill-all.
    s.lift_kill(KillTarget::Agent(did(11)), &[]).await.unwrap();
    assert!(s.is_killed(&did(11)).await.unwrap());
    // Lifting all clears kill-all and every agent's own switch.
    s.lift_kill(KillTarget::All, &[]).await.unwrap();
    for n in [10, 11, 12, 99] {
        assert!(!s.is_killed(&did(n)).await.unwrap(), "agent {n}");
    }
    s.lift_kill(KillTarget::All, &[]).await.unwrap();
}

pub async fn suspension(db: TestDb) {
    let s = db.store();
    s.add_agent(&agent("billing", 10), &[]).await.unwrap();
    s.add_agent(&agent("alerts", 11), &[]).await.unwrap();
    assert!(!s.is_suspended(&did(10)).await.unwrap());
    s.suspend_agent(&did(10), T0, &[]).await.unwrap();
    s.suspend_agent(&did(10), T0, &[]).await.unwrap();
    assert!(s.is_suspended(&did(10)).await.unwrap());
    assert!(!s.is_suspended(&did(11)).await.unwrap());
    assert!(!s.is_suspended(&did(99)).await.unwrap());
    let unknown = s.suspend_agent(&did(99), T0, &[]).await;
    assert!(matches!(unknown, Err(StoreError::NotFound)));
    // The agent's record is unchanged by it.
    assert_eq!(
        s.agent_by_did(&did(10)).await.unwrap(),
        Some(agent("billing", 10))
    );

    s.resume_agent("billing", &[]).await.unwrap();
    assert!(!s.is_suspended(&did(10)).await.unwrap());
    s.resume_agent("billing", &[]).await.unwrap();
    let unknown = s.resume_agent("nobody", &[]).await;
    assert!(matches!(unknown, Err(StoreError::NotFound)));
}
