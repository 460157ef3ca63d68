//! A device's approval: checked, counted towards a quorum if one applies, and turned into
//! the agent's capability once enough distinct devices have signed.

use std::collections::HashSet;

use countersign_core::policy::{Policy, PolicyLimits};
use countersign_core::validate::{Limits, TokenRef, Validator};
use countersign_core::{Cid, Value, json};
use data_encoding::BASE64;
use serde_json::json;

use super::token_record;
use crate::approval::{CheckedApproval, Parties, check_approval, issue_for_agent, matching};
use crate::audit::kind;
use crate::error::ApiError;
use crate::ids;
use crate::metrics::label;
use crate::state::AppState;
use crate::store::{
    Approval, AuditEvent, Device, PartialApproval, QuorumRule, Request, RequestState, StoreError,
};

/// What an approval led to.
#[derive(Debug)]
pub enum Outcome {
    /// The capability was issued.
    Issued(Request),
    /// Recorded; more approvals from other devices are needed.
    Counted {
        request: Request,
        have: usize,
        need: u32,
    },
}

pub async fn approve(
    state: &AppState,
    device: &Device,
    request: &Request,
    envelope: Vec<u8>,
) -> Result<Outcome, ApiError> {
    let now = state.now();
    if request.agent_did == device.did {
        return Err(ApiError::forbidden(
            "a requester cannot approve its own request",
        ));
    }
    let checked = check(state, device, request, &envelope, now).await?;
    if matching::required(&state.config.requests, request) {
        let picked = checked
            .delegation
            .meta
            .as_ref()
            .and_then(|m| m.get(matching::MATCH_META))
            .and_then(Value::as_str);
        match picked {
            None => {
                return Err(ApiError::refused(
                    "match_required",
                    "this request needs number matching: pick the code the requester shows",
                ));
            }
            Some(code) if code != request.code => {
                return Err(ApiError::refused(
                    "match_wrong",
                    "the picked code is not the requester's; nothing was approved",
                ));
            }
            Some(_) => {}
        }
    }
    let needed = quorum_needed(state, request).await?;
    let approvals = if needed > 1 {
        let partial = PartialApproval {
            request_id: request.id.clone(),
            device: device.did,
            envelope: envelope.clone(),
            standing: checked.standing.clone(),
            at: now,
        };
        let event = AuditEvent::new(
            now,
            kind::APPROVAL,
            device.did,
            &request.id,
            json!({
                "device": device.name, "envelope": BASE64.encode(&envelope), "quorum": needed,
            }),
        );
        let all = state
            .store
            .add_partial_approval(&partial, &[event])
            .await
            .map_err(|e| match e {
                StoreError::AlreadyExists => ApiError::new(
                    axum::http::StatusCode::CONFLICT,
                    "already_approved",
                    "this device has already approved; another device must approve too",
                ),
                other => other.into(),
            })?;
        state.announce(false);
        if all.len() < needed as usize {
            return Ok(Outcome::Counted {
                request: request.clone(),
                have: all.len(),
                need: needed,
            });
        }
        all
    } else {
        Vec::new()
    };
    issue(state, device, request, checked, envelope, approvals, now).await
}

/// The approval's checks, with the device's revoked standing delegations looked up.
async fn check(
    state: &AppState,
    device: &Device,
    request: &Request,
    envelope: &[u8],
    now: i64,
) -> Result<CheckedApproval, ApiError> {
    let mut revoked = HashSet::new();
    for bytes in &device.standing {
        let cid = Cid::dag_cbor(bytes);
        if state.store.is_revoked(&cid.to_string()).await? {
            revoked.insert(cid);
        }
    }
    let parties = Parties {
        device,
        service: state.service_did(),
        owner: state.owner,
        now: u64::try_from(now).unwrap_or(0),
        skew: state.config.auth.clock_skew.0,
    };
    check_approval(request, envelope, parties, |cid| revoked.contains(cid))
        .map_err(|refusal| ApiError::refused(refusal.code(), refusal.to_string()))
}

/// How many distinct approvals the request needs: the largest k of the rules that apply.
async fn quorum_needed(state: &AppState, request: &Request) -> Result<u32, ApiError> {
    let rules = state.store.quorum_rules().await?;
    let args = request.args.as_ref().and_then(|a| json::from_json(a).ok());
    Ok(rules
        .iter()
        .filter(|r| applies(r, request, args.as_ref()))
        .map(|r| r.approvals)
        .max()
        .unwrap_or(1))
}

fn applies(rule: &QuorumRule, request: &Request, args: Option<&Value>) -> bool {
    let Ok(prefix) = rule.command.parse::<countersign_core::Command>() else {
        return false;
    };
    if !prefix.proves(&request.command) {
        return false;
    }
    let when = json::from_json(&rule.when)
        .ok()
        .and_then(|v| Policy::parse(&v, &PolicyLimits::default()).ok())
        .unwrap_or_default();
    // A conditional rule applies when its condition holds for the args; for a policy
    // range (no exact args) it always applies: the range may include such calls.
    when.is_empty() || args.is_none_or(|a| when.matches(a, &PolicyLimits::default()).is_ok())
}

async fn issue(
    state: &AppState,
    device: &Device,
    request: &Request,
    checked: CheckedApproval,
    envelope: Vec<u8>,
    quorum: Vec<PartialApproval>,
    now: i64,
) -> Result<Outcome, ApiError> {
    // With a quorum, the first approval forms the chain and the others ride in `meta`;
    // each is re-read so the chain's links are the ones that device signed.
    let (main_envelope, main_checked, co) = match quorum.split_first() {
        None => (envelope, checked, Vec::new()),
        Some((first, rest)) => {
            let first_checked = if first.device == device.did {
                checked
            } else {
                reopen(first, request.lifetime)?
            };
            let co: Vec<(Vec<u8>, Vec<u8>)> = rest
                .iter()
                .map(|p| (p.standing.clone(), p.envelope.clone()))
                .collect();
            (first.envelope.clone(), first_checked, co)
        }
    };
    let (issued, chain) = issue_for_agent(
        &state.service,
        request.agent_did,
        &main_checked,
        &main_envelope,
        &co,
        &mut ids::nonces(),
    );
    let approver = main_checked.delegation.issuer;
    let owner = state.owner;
    let tokens = vec![
        token_record(
            "approval",
            &main_envelope,
            &main_checked.delegation,
            Some(&request.id),
            None,
            now,
            vec![owner, approver],
        ),
        token_record(
            "issued",
            &issued.bytes,
            &issued.token,
            Some(&request.id),
            Some(request.agent_did),
            now,
            vec![owner, approver, state.service_did()],
        ),
    ];
    let approval = Approval {
        device: approver,
        at: now,
        envelope: main_envelope.clone(),
        chain,
        issued_cid: issued.cid.to_string(),
        issued_expires_at: i64::try_from(main_checked.expires_at).unwrap_or(i64::MAX),
        tokens,
    };
    let mut events = Vec::new();
    if quorum.is_empty() {
        events.push(AuditEvent::new(
            now,
            kind::APPROVAL,
            device.did,
            &request.id,
            json!({
                "device": device.name, "envelope": BASE64.encode(&main_envelope),
            }),
        ));
    }
    events.push(AuditEvent::new(
        now,
        kind::ISSUANCE,
        state.service_did(),
        &request.id,
        json!({
            "token": issued.cid.to_string(), "agent": request.agent_name,
            "expires_at": approval.issued_expires_at, "approvals": quorum.len().max(1),
        }),
    ));
    let decided = state.store.approve(&request.id, &approval, &events).await?;
    state.waiters.wake(&request.id);
    state.announce(false);
    state
        .metrics
        .inc("countersign_decisions_total", label("state", "approved"));
    state.metrics.inc("countersign_issued_total", "");
    state.metrics.observe_decision(now - request.created_at);
    tracing::info!(request = %request.id, device = %device.name, token = %issued.cid, "approved and issued");
    Ok(Outcome::Issued(decided))
}

/// A stored partial approval, read back as checked (its checks passed when it was stored).
fn reopen(p: &PartialApproval, lifetime: u64) -> Result<CheckedApproval, ApiError> {
    let validator = Validator::new(Limits::default(), 0);
    let d = validator
        .open_delegation(&TokenRef::Proof(0, Cid::dag_cbor(&p.envelope)), &p.envelope)
        .map_err(ApiError::internal)?;
    let latest = u64::try_from(p.at).unwrap_or(0).saturating_add(lifetime);
    let expires_at = d.expiration.unwrap_or(0).min(latest);
    Ok(CheckedApproval {
        delegation: d,
        standing: p.standing.clone(),
        expires_at,
    })
}

/// Refuses a decision on a request that is no longer pending.
pub fn ensure_pending(request: &Request, now: i64) -> Result<(), ApiError> {
    if request.state != RequestState::Pending {
        return Err(StoreError::NotPending(request.state).into());
    }
    if now >= request.expires_at {
        return Err(StoreError::NotPending(RequestState::Expired).into());
    }
    Ok(())
}
