//! What must hold once the faults are over.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;

use countersign_core::Keypair;
use serde_json::Value as Json;

use super::clients::issued_cid;
use super::{Api, Cast, Hook, Ledger, approves, decide, eventually};
use crate::support::{Scene, now};

/// Every entry of the audit log, read page by page.
fn audit_entries(api: &Api, owner: &Keypair) -> Vec<Json> {
    let mut entries = Vec::new();
    let mut after = 0;
    loop {
        let page = api.ok(owner, "GET", &format!("/v1/audit?after={after}"), None);
        let batch = page["entries"].as_array().unwrap();
        if batch.is_empty() {
            return entries;
        }
        after = batch.last().unwrap()["seq"].as_i64().unwrap();
        entries.extend(batch.iter().cloned());
    }
}

/// With the service up and the load stopped: lets the outbox drain and every request be
/// decided, then checks that what was acknowledged held. A summary of what was checked.
pub fn settle_and_check(
    scene: &Scene,
    api: &Api,
    cast: &Cast,
    hook: &Hook,
    ledger: &Ledger,
    seed: u64,
) -> String {
    let fail = |what: String| -> String { format!("{what} (seed {seed})") };
    let violations = ledger.violations.lock().unwrap().clone();
    assert!(violations.is_empty(), "{}", fail(format!("{violations:?}")));
    // Every acknowledged request was announced.
    let created = ledger.created.lock().unwrap().clone();
    eventually("pending notifications", || {
        let missing: Vec<&String> = created
            .keys()
            .filter(|id| hook.seen(&format!("{id}.pending")).acked == 0)
            .collect();
        match missing.len() {
            0 => Ok(()),
            n => Err(fail(format!(
                "{n} never announced, e.g. {:?}",
                &missing[..n.min(5)]
            ))),
        }
    });
    // The device decides whatever is still pending, once it has been told of it.
    eventually("pending requests decided", || {
        let inbox = api.ok(
            &cast.owner,
            "GET",
            "/v1/requests?state=pending&limit=1000",
            None,
        );
        let pending = inbox.as_array().unwrap();
        if pending.is_empty() {
            return Ok(());
        }
        for request in pending {
            let id = request["id"].as_str().unwrap();
            if hook.seen(&format!("{id}.pending")).acked > 0 {
                decide(api, cast, ledger, id, approves(seed, id));
            }
        }
        Err(fail(format!("{} still pending", pending.len())))
    });

    // Every request there is: each decided, as acknowledged.
    let mut all: BTreeSet<String> = created.keys().cloned().collect();
    all.extend(hook.pending_ids());
    let (approved, denied) = (
        ledger.approved.lock().unwrap().clone(),
        ledger.denied.lock().unwrap().clone(),
    );
    let mut states = BTreeMap::new();
    for id in &all {
        let view = api.ok(&cast.owner, "GET", &format!("/v1/requests/{id}"), None);
        let state = view["state"].as_str().unwrap().to_owned();
        assert!(
            state == "approved" || state == "denied",
            "{}",
            fail(format!(
                "{id} is {state} (created acknowledged: {}, announced: {:?}, now {}): {view}",
                created.contains_key(id),
                hook.seen(&format!("{id}.pending")),
                now()
            ))
        );
        if approved.contains(id) || denied.contains(id) {
            let expected = if approved.contains(id) {
                "approved"
            } else {
                "denied"
            };
            assert_eq!(state, expected, "{}", fail(format!("{id}: acknowledged")));
        }
        states.insert(
            id.clone(),
            (state, view["agent"]["name"].as_str().unwrap().to_owned()),
        );
    }

    // Every decision was announced, and the outbox ended every delivery once.
    let ends = eventually("every notification ended", || {
        let missing: Vec<String> = states
            .keys()
            .filter(|id| hook.seen(&format!("{id}.closed")).acked == 0)
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Err(fail(format!(
                "closed never delivered: {:?}",
                &missing[..missing.len().min(5)]
            )));
        }
        let mut ends: BTreeMap<String, Vec<(String, u64)>> = BTreeMap::new();
        for entry in audit_entries(api, &cast.owner) {
            let kind = entry["kind"].as_str().unwrap_or_default();
            if kind.starts_with("notification.") && entry["data"]["channel"] == "webhook" {
                let event = format!(
                    "{}.{}",
                    entry["subject"].as_str().unwrap(),
                    entry["data"]["message"].as_str().unwrap()
                );
                let attempts = entry["data"]["attempts"].as_u64().unwrap();
                ends.entry(event)
                    .or_default()
                    .push((kind.to_owned(), attempts));
            }
        }
        let events = hook.events();
        let unended: Vec<&String> = events.keys().filter(|e| !ends.contains_key(*e)).collect();
        match unended.len() {
            0 => Ok(ends),
            _ => Err(fail(format!("deliveries not ended: {unended:?}"))),
        }
    });
    let mut repeats = 0;
    for (event, seen) in hook.events() {
        let end = &ends[&event];
        assert_eq!(end.len(), 1, "{}", fail(format!("{event} ended {end:?}")));
        let (_, attempts) = end[0];
        // Each send follows a durable claim that counts an attempt: more deliveries than
        // attempts means something was sent again after its outcome was recorded.
        assert!(
            seen.received as u64 <= attempts,
            "{}",
            fail(format!("{event}: delivered {seen:?}, attempts {attempts}"))
        );
        repeats += seen.acked.saturating_sub(1);
    }

    // One chain per approval, the same on every fetch; revocations in force.
    let tokens = api.ok(&cast.owner, "GET", "/v1/tokens", None);
    let mut by_request: BTreeMap<String, Vec<&Json>> = BTreeMap::new();
    for token in tokens.as_array().unwrap() {
        if let Some(id) = token["request_id"].as_str() {
            by_request.entry(id.to_owned()).or_default().push(token);
        }
    }
    let chains = ledger.chains.lock().unwrap().clone();
    for (id, (state, agent)) in &states {
        let issued = by_request.get(id).map_or(&[][..], Vec::as_slice);
        if state == "denied" {
            assert!(
                issued.is_empty(),
                "{}",
                fail(format!("{id} denied, yet {issued:?}"))
            );
            continue;
        }
        assert_eq!(
            issued.len(),
            1,
            "{}",
            fail(format!("{id}: issued {issued:?}"))
        );
        let key = &cast.agent(agent).key;
        let fetch = || {
            let view = api.ok(key, "GET", &format!("/v1/requests/{id}"), None);
            view["container"].as_str().unwrap().to_owned()
        };
        let container = fetch();
        assert_eq!(
            container,
            fetch(),
            "{}",
            fail(format!("{id}: the chain changed"))
        );
        if let Some(first) = chains.get(id) {
            assert_eq!(
                &container,
                first,
                "{}",
                fail(format!("{id}: the chain changed"))
            );
        }
        assert_eq!(
            issued[0]["cid"].as_str().unwrap(),
            issued_cid(&container, &api.service),
            "{}",
            fail(format!("{id}: the listed token is not the chain's"))
        );
    }
    let revoked = ledger.revoked.lock().unwrap().clone();
    let mut feed = BTreeSet::new();
    let mut after = 0;
    loop {
        let page = api.ok(
            &cast.owner,
            "GET",
            &format!("/v1/revocations?after={after}&limit=1000"),
            None,
        );
        let items = page["revocations"].as_array().unwrap();
        if items.is_empty() {
            break;
        }
        feed.extend(items.iter().map(|i| i["cid"].as_str().unwrap().to_owned()));
        after = page["next"].as_i64().unwrap();
    }
    for cid in &revoked {
        assert!(
            feed.contains(cid),
            "{}",
            fail(format!("{cid} revoked, not in the feed"))
        );
        let token = tokens
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["cid"] == cid.as_str());
        assert!(
            token.is_some_and(|t| t["revoked_at"].is_i64()),
            "{}",
            fail(format!("{cid} revoked, listed as {token:?}"))
        );
    }

    // The audit log verifies against the service's key.
    let export = scene.dir.join("audit.jsonl");
    let _ = std::fs::remove_file(&export);
    scene.ok_owner(&["audit", "export", "--out", export.to_str().unwrap()]);
    let verified = scene.owner(&[
        "audit",
        "verify",
        export.to_str().unwrap(),
        "--service",
        &api.service.to_string(),
    ]);
    assert_eq!(verified.code, 0, "{}", fail(format!("{verified:?}")));

    let violations = ledger.violations.lock().unwrap().clone();
    assert!(violations.is_empty(), "{}", fail(format!("{violations:?}")));
    assert!(
        !approved.is_empty(),
        "{}",
        fail("no approval was acknowledged".into())
    );
    format!(
        "{} requests ({} acknowledged), {} approvals and {} denials acknowledged, {} revocations, \
         {} notifications ({repeats} delivered again), {} calls unanswered",
        states.len(),
        created.len(),
        approved.len(),
        denied.len(),
        revoked.len(),
        hook.events().len(),
        ledger.unanswered.load(Ordering::Relaxed),
    )
}
