//! A new request: the agent's standing (killed, suspended), the flood limits, merging of
//! identical requests, and auto-approval under an owner → service standing delegation.

use countersign_core::policy::PolicyLimits;
use countersign_core::validate::{Limits, TokenRef, Validator};
use countersign_core::{Cid, json};
use serde_json::json;

use super::token_record;
use crate::approval::{CheckedApproval, issue_for_agent};
use crate::audit::kind;
use crate::error::ApiError;
use crate::ids;
use crate::metrics::label;

const REQUESTS: &str = "countersign_requests_total";
use crate::state::AppState;
use crate::store::{Agent, Approval, AuditEvent, CreateLimits, Request};

/// What became of a new request.
#[derive(Debug)]
pub enum Created {
    /// Stored and waiting for a human.
    Pending(Request),
    /// An identical request was already pending: no new request, no new notification.
    Merged(Request),
    /// Issued at once under an auto-approval delegation.
    AutoApproved(Request),
}

pub async fn create(
    state: &AppState,
    agent: &Agent,
    request: Request,
) -> Result<Created, ApiError> {
    let now = state.now();
    if state.store.is_killed(&agent.did).await? {
        return Err(ApiError::forbidden(
            "the kill switch is on for this agent; the owner must lift it",
        ));
    }
    if state.store.is_suspended(&agent.did).await? {
        return Err(ApiError::forbidden(
            "this agent is suspended after repeated denials; the owner must resume it",
        ));
    }
    if let Some(existing) = state.store.find_identical_pending(&request, now).await? {
        state.metrics.inc(REQUESTS, label("outcome", "merged"));
        return Ok(Created::Merged(existing));
    }
    if state.store.count_pending(now).await? >= u64::from(state.config.requests.max_pending_total) {
        return Err(ApiError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "too_many_pending",
            "the owner has too many requests pending; try again later",
        ));
    }
    let limits = CreateLimits {
        max_pending: agent.max_pending,
        rate_per_min: agent.rate_per_min,
    };
    let event = AuditEvent::new(
        now,
        kind::REQUEST_CREATED,
        agent.did,
        &request.id,
        json!({
            "agent": agent.name, "cmd": request.command.to_string(), "summary": request.summary,
            "args": request.args, "policy": request.policy, "expires_at": request.expires_at,
        }),
    );
    state
        .store
        .create_request(&request, limits, &[event])
        .await?;
    state.announce(false);
    state.metrics.inc(REQUESTS, label("outcome", "created"));
    tracing::info!(request = %request.id, agent = %agent.name, cmd = %request.command, "request created");
    match auto_approve(state, &request, now).await? {
        Some(done) => Ok(Created::AutoApproved(done)),
        None => Ok(Created::Pending(request)),
    }
}

/// Issues at once if a live owner → service delegation covers the request's exact args.
/// Requests for a policy range always go to a human.
async fn auto_approve(
    state: &AppState,
    request: &Request,
    now: i64,
) -> Result<Option<Request>, ApiError> {
    let Some(args) = request.args.as_ref().and_then(|a| json::from_json(a).ok()) else {
        return Ok(None);
    };
    let validator = Validator::new(Limits::default(), 0);
    let policy_limits = PolicyLimits::default();
    for auto in state.store.auto_approvals(now).await? {
        let cid = Cid::dag_cbor(&auto.bytes);
        if state.store.is_revoked(&cid.to_string()).await? {
            continue;
        }
        let Ok(d) = validator.open_delegation(&TokenRef::Proof(0, cid), &auto.bytes) else {
            continue;
        };
        let covers = d.issuer == state.owner
            && d.audience == state.service_did()
            && d.subject == Some(state.owner)
            && d.command.proves(&request.command)
            && d.policy.matches(&args, &policy_limits).is_ok();
        if !covers {
            continue;
        }
        // The capability carries the request's exact policy and the auto-approval's own,
        // and never outlives either.
        let mut statements = json::from_json(&request.policy)
            .ok()
            .and_then(|v| countersign_core::policy::Policy::parse(&v, &policy_limits).ok())
            .map(|p| p.statements().to_vec())
            .unwrap_or_default();
        statements.extend(d.policy.statements().iter().cloned());
        let now_u = u64::try_from(now).unwrap_or(0);
        let expires_at = d
            .expiration
            .unwrap_or(u64::MAX)
            .min(now_u + request.lifetime);
        let mut delegation = d.clone();
        delegation.command = request.command.clone();
        delegation.policy = countersign_core::policy::Policy::new(statements);
        let checked = CheckedApproval {
            delegation,
            standing: Vec::new(),
            expires_at,
        };
        let (issued, _) = issue_for_agent(
            &state.service,
            request.agent_did,
            &checked,
            &auto.bytes,
            &[],
            &mut ids::nonces(),
        );
        let chain = vec![auto.bytes.clone(), issued.bytes.clone()];
        let service = state.service_did();
        let approval = Approval {
            device: service,
            at: now,
            envelope: auto.bytes.clone(),
            chain,
            issued_cid: issued.cid.to_string(),
            issued_expires_at: i64::try_from(expires_at).unwrap_or(i64::MAX),
            tokens: vec![token_record(
                "auto",
                &issued.bytes,
                &issued.token,
                Some(&request.id),
                Some(request.agent_did),
                now,
                vec![state.owner, service],
            )],
        };
        let events = [
            AuditEvent::new(
                now,
                kind::AUTO_APPROVAL,
                service,
                &request.id,
                json!({"delegation": auto.cid}),
            ),
            AuditEvent::new(
                now,
                kind::ISSUANCE,
                service,
                &request.id,
                json!({
                    "token": issued.cid.to_string(), "agent": request.agent_name,
                    "expires_at": approval.issued_expires_at, "approvals": 0,
                }),
            ),
        ];
        let done = state.store.approve(&request.id, &approval, &events).await?;
        state.waiters.wake(&request.id);
        state.announce(false);
        state
            .metrics
            .inc(REQUESTS, label("outcome", "auto_approved"));
        state.metrics.inc("countersign_issued_total", "");
        tracing::info!(request = %request.id, token = %issued.cid, "auto-approved");
        return Ok(Some(done));
    }
    Ok(None)
}
