//! Store cases for agents, pairing, devices, revocation, JWT ids, and durability.

use countersign_core::Cid;
use countersign_server::audit::kind;
use countersign_server::store::{KillTarget, PairingState, RequestState, Store, StoreError};

use super::fixtures::{
    NO_LIMITS, T0, TestDb, agent, approval, code_hash, device, did, event, pairing, request,
    revocation, tokens,
};

/// Pairs a device through the whole open → claimed → confirmed flow.
async fn pair(s: &dyn Store, pairing_id: &str, device: &countersign_server::store::Device) {
    let code = format!("code-{pairing_id}");
    s.create_pairing(&pairing(pairing_id, &code, T0 + 600))
        .await
        .unwrap();
    s.claim_pairing(&code_hash(&code), &device.did, &device.name, T0 + 1)
        .await
        .unwrap();
    s.confirm_pairing(pairing_id, device, &[]).await.unwrap();
}

pub async fn agents_crud(db: TestDb) {
    let s = db.store();
    s.ping().await.unwrap();
    let (billing, alerts) = (agent("billing", 10), agent("alerts", 11));
    s.add_agent(&billing, &[]).await.unwrap();
    s.add_agent(&alerts, &[]).await.unwrap();
    let listed = s.list_agents().await.unwrap();
    assert_eq!(listed, vec![alerts.clone(), billing.clone()]);
    assert_eq!(
        s.agent_by_did(&billing.did).await.unwrap(),
        Some(billing.clone())
    );
    assert_eq!(s.agent_by_did(&did(99)).await.unwrap(), None);

    s.remove_agent("billing", &[]).await.unwrap();
    assert!(matches!(
        s.remove_agent("billing", &[]).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.remove_agent("nobody", &[]).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(s.agent_by_did(&billing.did).await.unwrap(), None);
    assert_eq!(s.list_agents().await.unwrap(), vec![alerts]);
}

pub async fn agent_duplicates_are_rejected(db: TestDb) {
    let s = db.store();
    s.add_agent(&agent("billing", 10), &[]).await.unwrap();
    let same_name = agent("billing", 11);
    assert!(matches!(
        s.add_agent(&same_name, &[]).await,
        Err(StoreError::AlreadyExists)
    ));
    let same_did = agent("other", 10);
    assert!(matches!(
        s.add_agent(&same_did, &[]).await,
        Err(StoreError::AlreadyExists)
    ));
    assert_eq!(s.list_agents().await.unwrap(), vec![agent("billing", 10)]);
}

pub async fn pairing_open_claim_confirm(db: TestDb) {
    let s = db.store();
    let open = pairing("p1", "123456", T0 + 600);
    s.create_pairing(&open).await.unwrap();
    assert_eq!(s.pairing("p1").await.unwrap(), Some(open.clone()));
    assert_eq!(s.pairing("p2").await.unwrap(), None);
    assert!(matches!(
        s.create_pairing(&open).await,
        Err(StoreError::AlreadyExists)
    ));

    let claimed = s
        .claim_pairing(&code_hash("123456"), &did(2), "phone", T0 + 10)
        .await
        .unwrap();
    let expected = countersign_server::store::Pairing {
        state: PairingState::Claimed,
        device_did: Some(did(2)),
        device_name: Some("phone".to_owned()),
        ..open.clone()
    };
    assert_eq!(claimed, expected);
    assert_eq!(s.pairing("p1").await.unwrap(), Some(expected.clone()));

    let phone = device("d1", 2, tokens()[..1].to_vec());
    s.confirm_pairing("p1", &phone, &[]).await.unwrap();
    let confirmed = s.pairing("p1").await.unwrap().unwrap();
    assert_eq!(confirmed.state, PairingState::Confirmed);
    assert_eq!(confirmed.device_id.as_deref(), Some("d1"));
    assert_eq!(s.device_by_did(&did(2)).await.unwrap(), Some(phone.clone()));
    assert_eq!(s.device_by_did(&did(3)).await.unwrap(), None);
    assert_eq!(s.list_devices().await.unwrap(), vec![phone]);
}

fn unavailable<T>(result: Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::PairingUnavailable))
}

pub async fn pairing_unavailable_cases(db: TestDb) {
    let s = db.store();
    s.create_pairing(&pairing("p1", "111111", T0 + 600))
        .await
        .unwrap();
    let phone = device("d1", 2, tokens()[..1].to_vec());

    let (right, wrong) = (code_hash("111111"), code_hash("222222"));
    let wrong_code = s.claim_pairing(&wrong, &phone.did, "x", T0 + 1).await;
    assert!(unavailable(wrong_code));
    let too_late = s.claim_pairing(&right, &phone.did, "x", T0 + 600).await;
    assert!(unavailable(too_late));
    assert!(unavailable(s.confirm_pairing("p1", &phone, &[]).await));
    let unknown = s.confirm_pairing("p9", &phone, &[]).await;
    assert!(matches!(unknown, Err(StoreError::NotFound)));
    assert_eq!(
        s.pairing("p1").await.unwrap().unwrap().state,
        PairingState::Open
    );

    s.claim_pairing(&right, &phone.did, "x", T0 + 599)
        .await
        .unwrap();
    let twice = s.claim_pairing(&right, &did(3), "y", T0 + 599).await;
    assert!(unavailable(twice));
    // Only the device that claimed the pairing can be confirmed.
    let impostor = device("d2", 3, tokens()[..1].to_vec());
    assert!(unavailable(s.confirm_pairing("p1", &impostor, &[]).await));

    s.confirm_pairing("p1", &phone, &[]).await.unwrap();
    let again = device("d3", 2, tokens()[..1].to_vec());
    assert!(unavailable(s.confirm_pairing("p1", &again, &[]).await));
    assert_eq!(s.list_devices().await.unwrap(), vec![phone]);
}

pub async fn one_active_device_per_did(db: TestDb) {
    let s = db.store();
    let first = device("d1", 2, tokens()[..1].to_vec());
    pair(&*s, "p1", &first).await;

    // A second pairing by the same key fails as a whole: no device, still claimed.
    s.create_pairing(&pairing("p2", "code-p2", T0 + 600))
        .await
        .unwrap();
    s.claim_pairing(&code_hash("code-p2"), &did(2), "again", T0 + 1)
        .await
        .unwrap();
    let second = device("d2", 2, tokens()[..1].to_vec());
    let dup = s.confirm_pairing("p2", &second, &[]).await;
    assert!(matches!(dup, Err(StoreError::AlreadyExists)));
    let p2 = s.pairing("p2").await.unwrap().unwrap();
    assert_eq!((p2.state, p2.device_id), (PairingState::Claimed, None));
    assert_eq!(s.list_devices().await.unwrap(), vec![first]);

    // Once the first is removed, the key can be paired again.
    s.remove_device("d1", T0 + 5, &[]).await.unwrap();
    s.confirm_pairing("p2", &second, &[]).await.unwrap();
    assert_eq!(s.device_by_did(&did(2)).await.unwrap(), Some(second));
}

pub async fn device_removal_revokes_standing(db: TestDb) {
    let s = db.store();
    let standing = tokens()[..2].to_vec();
    let cids: Vec<String> = standing
        .iter()
        .map(|t| Cid::dag_cbor(t).to_string())
        .collect();
    let other_cid = Cid::dag_cbor(&tokens()[2]).to_string();
    let phone = device("d1", 2, standing);
    pair(&*s, "p1", &phone).await;
    for cid in &cids {
        assert!(!s.is_revoked(cid).await.unwrap());
    }

    let removed = s.remove_device("d1", T0 + 100, &[]).await.unwrap();
    let expected = countersign_server::store::Device {
        removed_at: Some(T0 + 100),
        ..phone
    };
    assert_eq!(removed, expected);
    assert_eq!(s.device_by_did(&did(2)).await.unwrap(), None);
    assert_eq!(s.list_devices().await.unwrap(), vec![expected]);
    for cid in &cids {
        assert!(s.is_revoked(cid).await.unwrap(), "{cid} revoked");
    }
    assert!(!s.is_revoked(&other_cid).await.unwrap());

    let again = s.remove_device("d1", T0 + 200, &[]).await;
    assert!(matches!(again, Err(StoreError::NotFound)));
    let unknown = s.remove_device("d9", T0 + 200, &[]).await;
    assert!(matches!(unknown, Err(StoreError::NotFound)));
}

pub async fn jti_replay_and_prune(db: TestDb) {
    let s = db.store();
    let (issuer, other) = (did(4), did(5));
    assert!(s.use_jti(&issuer, "j1", T0 + 60).await.unwrap());
    assert!(!s.use_jti(&issuer, "j1", T0 + 60).await.unwrap());
    assert!(s.use_jti(&other, "j1", T0 + 60).await.unwrap());
    assert!(s.use_jti(&issuer, "j2", T0 + 120).await.unwrap());

    assert_eq!(s.prune_jtis(T0 + 60).await.unwrap(), 0);
    assert_eq!(s.prune_jtis(T0 + 61).await.unwrap(), 2);
    assert_eq!(s.prune_jtis(T0 + 61).await.unwrap(), 0);
    assert!(!s.use_jti(&issuer, "j2", T0 + 120).await.unwrap());
    assert!(s.use_jti(&issuer, "j1", T0 + 60).await.unwrap());
}

pub async fn corrupt_rows_are_errors(db: TestDb) {
    let s = db.store();
    s.add_agent(&agent("billing", 10), &[]).await.unwrap();
    s.create_request(&request("r1", 10, T0), NO_LIMITS, &[])
        .await
        .unwrap();
    db.execute("UPDATE agents SET did = 'did:key:nonsense'")
        .await;
    db.execute("UPDATE requests SET args = '{not json'").await;
    let corrupt = |e: StoreError| matches!(e, StoreError::Database(m) if m.contains("corrupt"));
    assert!(corrupt(s.list_agents().await.unwrap_err()));
    assert!(corrupt(s.request("r1").await.unwrap_err()));
}

pub async fn data_survives_reopening(mut db: TestDb) {
    let s = db.store();
    let billing = agent("billing", 10);
    s.add_agent(&billing, &[]).await.unwrap();
    let (phone, tablet) = (
        device("d1", 2, tokens()[..1].to_vec()),
        device("d2", 3, tokens()[1..2].to_vec()),
    );
    pair(&*s, "p1", &phone).await;
    pair(&*s, "p2", &tablet).await;
    s.remove_device("d2", T0 + 2, &[]).await.unwrap();
    let removed_cid = Cid::dag_cbor(&tokens()[1]).to_string();
    s.create_request(&request("r1", 10, T0), NO_LIMITS, &[])
        .await
        .unwrap();
    s.create_request(&request("r2", 10, T0 + 1), NO_LIMITS, &[])
        .await
        .unwrap();
    let approved = s.approve("r1", &approval(T0 + 3), &[]).await.unwrap();
    assert!(s.use_jti(&did(4), "j1", T0 + 60).await.unwrap());
    s.append_audit(&[event(T0 + 4, kind::RECEIPT, "r1")])
        .await
        .unwrap();
    s.kill(KillTarget::Agent(did(11)), T0 + 5, &[])
        .await
        .unwrap();
    s.revoke(&revocation("bafy-x", T0 + 5, None), &[])
        .await
        .unwrap();
    s.suspend_agent(&did(10), T0, &[]).await.unwrap();
    let pairing = s.pairing("p1").await.unwrap();
    let devices = s.list_devices().await.unwrap();
    let (head, feed) = (
        s.audit_head().await.unwrap(),
        s.revocations_after(0, 0).await.unwrap(),
    );
    let issued = s.list_tokens(None, None).await.unwrap();
    drop(s);

    db.reopen().await;
    let s = db.store();
    assert_eq!(s.list_agents().await.unwrap(), vec![billing]);
    assert_eq!(s.pairing("p1").await.unwrap(), pairing);
    assert_eq!(s.list_devices().await.unwrap(), devices);
    assert_eq!(s.device_by_did(&did(2)).await.unwrap(), Some(phone));
    assert!(s.is_revoked(&removed_cid).await.unwrap());
    assert_eq!(s.request("r1").await.unwrap(), Some(approved));
    let r2 = s.request("r2").await.unwrap().unwrap();
    assert_eq!(r2, request("r2", 10, T0 + 1));
    assert_eq!(r2.state, RequestState::Pending);
    assert!(!s.use_jti(&did(4), "j1", T0 + 60).await.unwrap());
    assert_eq!(s.audit_head().await.unwrap(), head);
    assert_eq!(head.0, 1);
    assert_eq!(s.revocations_after(0, 0).await.unwrap(), feed);
    assert_eq!(feed.len(), 2);
    assert_eq!(s.list_tokens(None, None).await.unwrap(), issued);
    assert!(s.is_killed(&did(11)).await.unwrap());
    assert!(!s.is_killed(&did(10)).await.unwrap());
    assert!(s.is_suspended(&did(10)).await.unwrap());
    // Cursors carry on after the last one.
    let next = s.revoke(&revocation("bafy-next", T0 + 6, None), &[]).await;
    assert!(next.unwrap().unwrap() > feed[1].cursor);
}
