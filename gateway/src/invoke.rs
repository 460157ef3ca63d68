//! One invocation, end to end: the checks, then — only if all pass — the replay claim
//! (durable, with the receipt in progress), the upstream call, and its receipt.

use countersign_core::{Cid, Command};

use crate::adapters::{Prepared, Upstream};
use crate::check::{Refused, Seen};
use crate::error::{ApiError, Kind};
use crate::state::AppState;
use crate::store::{ATTEMPT, Claim, Outcome, Record};

/// An invocation that was executed (the upstream may still have refused it).
#[derive(Debug, Clone)]
pub struct Invoked {
    pub invocation: Cid,
    pub route: Command,
    pub upstream: Upstream,
}

/// What is left to do once the checks have passed; owned, so it can outlive the request.
struct Execution {
    cid: Cid,
    command: Command,
    expires_at: i64,
    prepared: Prepared,
}

/// Checks and executes the invocation among `tokens`.
pub async fn invoke(state: &AppState, tokens: Vec<Vec<u8>>) -> Result<Invoked, ApiError> {
    let now = state.now();
    if state.is_stale() {
        let max = state.config.checks.max_staleness;
        let message = match state.view.last_sync() {
            Some(at) => format!(
                "the revocation view was last brought up to date {}s ago (the bound is {max}); \
                 nothing is executed until the feed is reachable",
                now - at
            ),
            None => "the revocation feed has not been reached yet; nothing is executed until \
                     it is"
                .to_owned(),
        };
        return Err(ApiError::new(Kind::StaleRevocations, message));
    }
    let checked = {
        // The guard is held only while checking: no await inside.
        let revoked = state.view.revoked();
        state
            .checks()
            .check(tokens, u64::try_from(now).unwrap_or(0), &revoked)
    };
    let execution = match checked {
        Ok(c) => Execution {
            cid: c.cid,
            command: c.command,
            expires_at: to_i64(c.expires_at),
            prepared: c.prepared,
        },
        Err(Refused { error, seen }) => {
            if let Some(seen) = seen {
                refusal_receipt(state, &seen, error.kind);
            }
            tracing::info!(kind = %error.kind, message = %error.message, "invocation refused");
            return Err(error);
        }
    };
    // The rest runs on its own task: a client that hangs up must not stop a call that
    // has been claimed, nor its receipt.
    let task = tokio::spawn(execute(state.clone(), execution));
    task.await
        .map_err(|e| ApiError::internal(format!("the invocation task failed: {e}")))?
}

async fn execute(state: AppState, run: Execution) -> Result<Invoked, ApiError> {
    let cid = run.cid.to_string();
    let claim = Claim {
        cid: run.cid.clone(),
        route: run.command.to_string(),
        expires_at: run.expires_at,
        at: state.now(),
    };
    match state.store.claim(claim).await {
        Ok(true) => {}
        Ok(false) => {
            let seen = Seen {
                cid: run.cid.clone(),
                command: run.command.clone(),
                expires_at: u64::try_from(run.expires_at).unwrap_or(0),
            };
            refusal_receipt(&state, &seen, Kind::Replayed);
            tracing::info!(invocation = %cid, "replayed invocation refused");
            return Err(ApiError::new(
                Kind::Replayed,
                format!("invocation {cid} was accepted before; an invocation runs once"),
            ));
        }
        Err(e) => return Err(ApiError::internal(e)),
    }
    let Some(route) = state.routes.get(&run.command) else {
        return Err(ApiError::internal("a checked route disappeared"));
    };
    let upstream = route.adapter.call(run.prepared, &cid).await;
    state.store.record(Record {
        invocation: run.cid.clone(),
        kind: ATTEMPT.to_owned(),
        route: run.command.to_string(),
        outcome: upstream.outcome,
        status: upstream.status,
        at: state.now(),
        expires_at: run.expires_at,
    });
    tracing::info!(
        invocation = %cid,
        route = %run.command,
        outcome = upstream.outcome.as_str(),
        status = upstream.status,
        "invocation executed"
    );
    Ok(Invoked {
        invocation: run.cid,
        route: run.command,
        upstream,
    })
}

/// Queues the receipt of a refusal that came after the chain was found valid.
fn refusal_receipt(state: &AppState, seen: &Seen, kind: Kind) {
    state.store.record(Record {
        invocation: seen.cid.clone(),
        kind: kind.as_str().to_owned(),
        route: seen.command.to_string(),
        outcome: Outcome::Refused,
        status: 0,
        at: state.now(),
        expires_at: to_i64(seen.expires_at),
    });
}

fn to_i64(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}
