//! Who is calling: extractors that verify the caller's JWT and look up its role, so
//! handlers never read headers.

pub mod jwt;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use countersign_core::Did;

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{Agent, Device};

/// Any caller who proved control of its key (used to claim a pairing).
#[derive(Debug, Clone)]
pub struct Signer(pub Did);

/// The owner (its DID is the service's configured owner).
#[derive(Debug, Clone)]
pub struct Owner(pub Did);

/// A registered agent.
#[derive(Debug, Clone)]
pub struct AgentCaller(pub Agent);

/// A paired, active approver device.
#[derive(Debug, Clone)]
pub struct DeviceCaller(pub Device);

/// The owner or a paired device: those who may see requests.
#[derive(Debug, Clone)]
pub enum Approver {
    Owner(Did),
    Device(Device),
}

/// Verifies the bearer token; the `jti` is consumed once the role is known.
async fn authenticate(parts: &Parts, state: &AppState) -> Result<jwt::Verified, ApiError> {
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer <JWT>"))?;
    let token = header
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::unauthorized("the Authorization header must be Bearer <JWT>"))?;
    let rules = jwt::TimeRules {
        now: state.now(),
        max_lifetime: secs(state.config.auth.max_token_lifetime.0),
        skew: secs(state.config.auth.clock_skew.0),
    };
    jwt::verify(token.trim(), &state.service_did(), rules)
        .map_err(|e| ApiError::unauthorized(e.to_string()))
}

fn secs(s: u64) -> i64 {
    i64::try_from(s).unwrap_or(i64::MAX)
}

/// Records the token's `jti`; a second use is a replay.
async fn consume(state: &AppState, v: &jwt::Verified) -> Result<(), ApiError> {
    let fresh = state
        .store
        .use_jti(&v.did, &v.claims.jti, v.claims.exp)
        .await?;
    if fresh {
        Ok(())
    } else {
        Err(ApiError::unauthorized(
            "this token was already used; sign a new one per call",
        ))
    }
}

impl FromRequestParts<AppState> for Signer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let v = authenticate(parts, state).await?;
        consume(state, &v).await?;
        Ok(Signer(v.did))
    }
}

impl FromRequestParts<AppState> for Owner {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let v = authenticate(parts, state).await?;
        if v.did != state.owner {
            return Err(ApiError::forbidden("only the owner may do this"));
        }
        consume(state, &v).await?;
        Ok(Owner(v.did))
    }
}

impl FromRequestParts<AppState> for AgentCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let v = authenticate(parts, state).await?;
        let agent =
            state.store.agent_by_did(&v.did).await?.ok_or_else(|| {
                ApiError::forbidden(format!("{} is not a registered agent", v.did))
            })?;
        consume(state, &v).await?;
        Ok(AgentCaller(agent))
    }
}

impl FromRequestParts<AppState> for DeviceCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let v = authenticate(parts, state).await?;
        let device = state.store.device_by_did(&v.did).await?.ok_or_else(|| {
            ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "not_paired",
                format!("{} is not a paired device", v.did),
            )
        })?;
        consume(state, &v).await?;
        Ok(DeviceCaller(device))
    }
}

impl FromRequestParts<AppState> for Approver {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let v = authenticate(parts, state).await?;
        let approver = if v.did == state.owner {
            Approver::Owner(v.did)
        } else {
            match state.store.device_by_did(&v.did).await? {
                Some(device) => Approver::Device(device),
                None => {
                    return Err(ApiError::forbidden(
                        "only the owner or a paired device may do this",
                    ));
                }
            }
        };
        consume(state, &v).await?;
        Ok(approver)
    }
}

/// Any registered principal: the owner, an agent or a paired device.
#[derive(Debug, Clone)]
pub enum Caller {
    Owner(Did),
    Agent(Agent),
    Device(Device),
}

impl Caller {
    pub fn did(&self) -> &Did {
        match self {
            Caller::Owner(did) => did,
            Caller::Agent(agent) => &agent.did,
            Caller::Device(device) => &device.did,
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let v = authenticate(parts, state).await?;
        let caller = if v.did == state.owner {
            Caller::Owner(v.did)
        } else if let Some(agent) = state.store.agent_by_did(&v.did).await? {
            Caller::Agent(agent)
        } else if let Some(device) = state.store.device_by_did(&v.did).await? {
            Caller::Device(device)
        } else {
            return Err(ApiError::forbidden(format!(
                "{} is not known to this service",
                v.did
            )));
        };
        consume(state, &v).await?;
        Ok(caller)
    }
}
