//! The load: client threads calling the service while faults are injected.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Instant;

use countersign_core::Cid;
use serde_json::json;

use super::clients::{Agent, issued_cid};
use super::{Api, CMD, Cast, Decided, Hook, Ledger, Rng, approves, decide, random_hex};
use crate::support::POLL;

/// Client threads: agents asking and fetching their chains, the device deciding what its
/// notifications announce, the owner revoking some of what was issued, and an agent that
/// goes away in the middle of its calls.
pub struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    pub ledger: Arc<Ledger>,
}

impl Load {
    pub fn start(
        api: &Arc<Api>,
        cast: &Arc<Cast>,
        hook: &Arc<Hook>,
        rng: &mut Rng,
        seed: u64,
    ) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let ledger = Arc::new(Ledger::default());
        let mut threads = Vec::new();
        for index in 0..cast.agents.len() {
            let (api, cast, ledger, stop, rng) = (
                api.clone(),
                cast.clone(),
                ledger.clone(),
                stop.clone(),
                rng.fork(),
            );
            threads.push(thread::spawn(move || {
                agent_load(&api, &cast.agents[index], &ledger, &stop, rng);
            }));
        }
        let (api2, cast2, ledger2, stop2, hook) = (
            api.clone(),
            cast.clone(),
            ledger.clone(),
            stop.clone(),
            hook.clone(),
        );
        threads.push(thread::spawn(move || {
            device_load(&api2, &cast2, &ledger2, &stop2, &hook, seed);
        }));
        let (api2, cast2, ledger2, stop2, rng2) = (
            api.clone(),
            cast.clone(),
            ledger.clone(),
            stop.clone(),
            rng.fork(),
        );
        threads.push(thread::spawn(move || {
            owner_load(&api2, &cast2, &ledger2, &stop2, rng2);
        }));
        let (api, cast, stop2, rng) = (api.clone(), cast.clone(), stop.clone(), rng.fork());
        threads.push(thread::spawn(move || {
            vanishing_load(&api, &cast.agents[0], &stop2, rng);
        }));
        Load {
            stop,
            threads,
            ledger,
        }
    }

    /// Stops the clients once their calls under way end.
    pub fn stop(mut self) -> Arc<Ledger> {
        self.stop.store(true, Ordering::SeqCst);
        for thread in self.threads.drain(..) {
            thread.join().unwrap();
        }
        self.ledger.clone()
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn agent_load(api: &Api, agent: &Agent, ledger: &Ledger, stop: &AtomicBool, mut rng: Rng) {
    let mut mine: Vec<String> = Vec::new();
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) {
        if mine.is_empty() || rng.one_in(2) {
            n += 1;
            let body = json!({
                "cmd": CMD,
                "args": {"to": format!("{}+{n}@example.com", agent.name), "nonce": random_hex()},
                "summary": format!("Email {n} from {}", agent.name),
            });
            let answer = api.call(&agent.key, "POST", "/v1/requests", Some(&body));
            if let Some(created) = ledger.answer("create", answer, &[]) {
                let id = created["id"].as_str().unwrap().to_owned();
                ledger
                    .created
                    .lock()
                    .unwrap()
                    .insert(id.clone(), agent.name.clone());
                mine.push(id);
            }
        } else {
            let id = &mine[usize::try_from(rng.below(mine.len() as u64)).unwrap()];
            let answer = api.call(&agent.key, "GET", &format!("/v1/requests/{id}"), None);
            if let Some(view) = ledger.answer("fetch", answer, &[]) {
                if let Some(container) = view["container"].as_str() {
                    ledger.fetched(id, container);
                }
            }
        }
        thread::sleep(rng.millis(5, 40));
    }
}

/// Requests sent and abandoned after 0 to 40 ms: whatever the service was doing for them
/// is cancelled. Those it committed are decided like any other.
fn vanishing_load(api: &Api, agent: &Agent, stop: &AtomicBool, mut rng: Rng) {
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let body = json!({
            "cmd": CMD,
            "args": {"to": format!("gone+{n}@example.com"), "nonce": random_hex()},
            "summary": format!("Email {n}, then gone"),
        });
        api.abandon(&agent.key, "POST", "/v1/requests", &body, rng.millis(0, 40));
        thread::sleep(rng.millis(5, 40));
    }
}

fn device_load(api: &Api, cast: &Cast, ledger: &Ledger, stop: &AtomicBool, hook: &Hook, seed: u64) {
    let mut done = BTreeSet::new();
    // A request whose decision got no answer waits its turn again, behind the others.
    let mut later: BTreeMap<String, Instant> = BTreeMap::new();
    while !stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        let next = hook
            .pending_ids()
            .into_iter()
            .find(|id| !done.contains(id) && later.get(id).is_none_or(|at| *at <= now));
        let Some(id) = next else {
            thread::sleep(POLL);
            continue;
        };
        match decide(api, cast, ledger, &id, approves(seed, &id)) {
            Decided::Acked | Decided::Settled => {
                later.remove(&id);
                done.insert(id);
            }
            Decided::Unanswered => {
                later.insert(id, Instant::now() + POLL * 8);
            }
        }
    }
}

fn owner_load(api: &Api, cast: &Cast, ledger: &Ledger, stop: &AtomicBool, mut rng: Rng) {
    while !stop.load(Ordering::SeqCst) {
        thread::sleep(rng.millis(50, 250));
        let chains: Vec<String> = ledger.chains.lock().unwrap().values().cloned().collect();
        if chains.is_empty() {
            continue;
        }
        let pick = &chains[usize::try_from(rng.below(chains.len() as u64)).unwrap()];
        let cid: Cid = issued_cid(pick, &api.service).parse().unwrap();
        if !rng.one_in(3) || ledger.revoked.lock().unwrap().contains(&cid.to_string()) {
            continue;
        }
        let record = countersign_core::revocation::Revocation::sign(&cast.owner, cid.clone());
        let body = json!({ "record": record.to_json(), "reason": "fault test" });
        let answer = api.call(&cast.owner, "POST", "/v1/revocations", Some(&body));
        if ledger.answer("revoke", answer, &[]).is_some() {
            ledger.revoked.lock().unwrap().insert(cid.to_string());
        }
    }
}

/// The service's settings for a run under load: the webhook, short leases and retries
/// (a delivery claimed by a killed process is sent again soon), and limits high enough
/// that the load is never refused for its volume.
pub fn load_settings(hook: &Hook) -> Vec<(&'static str, String)> {
    vec![
        ("COUNTERSIGN_WEBHOOK__URL", hook.url.clone()),
        ("COUNTERSIGN_WEBHOOK_SECRET", "a-fault-test-secret".into()),
        ("COUNTERSIGN_NOTIFY__LEASE", "3".into()),
        ("COUNTERSIGN_NOTIFY__RETRY_BASE", "1".into()),
        ("COUNTERSIGN_NOTIFY__RETRY_MAX", "2".into()),
        ("COUNTERSIGN_NOTIFY__MAX_ATTEMPTS", "1000".into()),
        ("COUNTERSIGN_AGENTS__MAX_PENDING", "10000".into()),
        ("COUNTERSIGN_AGENTS__RATE_PER_MIN", "100000".into()),
        ("COUNTERSIGN_AGENTS__DENIALS_TO_SUSPEND", "1000000".into()),
        ("COUNTERSIGN_REQUESTS__MAX_PENDING_TOTAL", "100000".into()),
        // Requests wait for the device however long a run takes (an hour at most).
        ("COUNTERSIGN_REQUESTS__DEFAULT_EXPIRY", "3600".into()),
    ]
}
