//! What the API answers with: requests, agents and devices as clients see them.

use serde::Serialize;
use serde_json::Value as Json;
use utoipa::ToSchema;

use crate::approval::{chain_container, matching};
use crate::config::RequestsConfig;
use crate::store::{Agent, Device, Request, RequestState};

/// A request as an agent or an approver sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestView {
    pub id: String,
    pub agent: AgentRef,
    pub cmd: String,
    pub subject: String,
    /// The exact arguments, when the agent named them.
    #[schema(value_type = Option<Object>)]
    pub args: Option<Json>,
    /// The policy the capability will carry (UCAN policy statements).
    #[schema(value_type = Vec<Object>)]
    pub policy: Json,
    pub summary: String,
    pub reason: String,
    #[schema(value_type = Option<Object>)]
    pub diff: Option<Json>,
    /// Requested capability lifetime, in seconds.
    pub lifetime: u64,
    /// `pending`, `approved`, `denied`, `expired`, `withdrawn` or `cancelled` (kill switch).
    pub state: String,
    pub created_at: i64,
    pub expires_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<i64>,
    /// The device that decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denial_reason: Option<String>,
    /// For the requesting agent only: the number-matching code to read out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// For the requesting agent only, once approved: its chain as a UCAN container.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// For approvers, when number matching applies: pick the requester's code among these
    /// and sign it into the approval's `meta` as `countersign/match`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub match_choices: Option<Vec<String>>,
    /// While a quorum is being gathered: distinct approvals so far, and how many are needed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approvals: Option<Quorum>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Quorum {
    pub have: usize,
    pub need: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgentRef {
    pub name: String,
    pub did: String,
}

/// Whose eyes a view is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The agent that made the request.
    Requester,
    /// The owner or an approver device.
    Approver,
}

impl RequestView {
    pub fn of(r: &Request, audience: Audience, config: &RequestsConfig) -> RequestView {
        let requester = audience == Audience::Requester;
        let matching =
            !requester && r.state == RequestState::Pending && matching::required(config, r);
        RequestView {
            id: r.id.clone(),
            agent: AgentRef {
                name: r.agent_name.clone(),
                did: r.agent_did.to_string(),
            },
            cmd: r.command.to_string(),
            subject: r.subject.to_string(),
            args: r.args.clone(),
            policy: r.policy.clone(),
            summary: r.summary.clone(),
            reason: r.reason.clone(),
            diff: r.diff.clone(),
            lifetime: r.lifetime,
            state: r.state.as_str().to_owned(),
            created_at: r.created_at,
            expires_at: r.expires_at,
            decided_at: r.decided_at,
            decided_by: r.decided_by.map(|d| d.to_string()),
            denial_reason: r.denial_reason.clone(),
            code: requester.then(|| r.code.clone()),
            container: (requester && !r.chain.is_empty()).then(|| chain_container(&r.chain)),
            match_choices: matching.then(|| matching::choices(r)),
            approvals: None,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgentView {
    pub name: String,
    pub did: String,
    pub allow: Vec<String>,
    pub max_pending: u32,
    pub rate_per_min: u32,
    pub created_at: i64,
}

impl From<&Agent> for AgentView {
    fn from(a: &Agent) -> Self {
        AgentView {
            name: a.name.clone(),
            did: a.did.to_string(),
            allow: a.allow.iter().map(ToString::to_string).collect(),
            max_pending: a.max_pending,
            rate_per_min: a.rate_per_min,
            created_at: a.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceView {
    pub id: String,
    pub name: String,
    pub did: String,
    /// CIDs of the owner's standing delegations to this device.
    pub standing: Vec<String>,
    pub created_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removed_at: Option<i64>,
}

impl From<&Device> for DeviceView {
    fn from(d: &Device) -> Self {
        DeviceView {
            id: d.id.clone(),
            name: d.name.clone(),
            did: d.did.to_string(),
            standing: d
                .standing
                .iter()
                .map(|b| countersign_core::Cid::dag_cbor(b).to_string())
                .collect(),
            created_at: d.created_at,
            removed_at: d.removed_at,
        }
    }
}
