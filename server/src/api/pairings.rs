//! `/v1/pairings`: the owner opens a pairing, a device claims it with the one-time code,
//! both compare the verification string, the owner confirms with a signed standing
//! delegation.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use countersign_core::policy::{Policy, PolicyLimits};
use countersign_core::validate::{Limits, TokenRef, Validator};
use countersign_core::{Cid, Command, json};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json_;
use utoipa::ToSchema;

use crate::audit::kind;
use crate::auth::{Owner, Signer};
use crate::error::ApiError;
use crate::input::JsonBody;
use crate::pairing::{code_hash, verification_string};
use crate::state::AppState;
use crate::store::{AuditEvent, Device, Pairing, PairingState};
use crate::{ids, input};
use serde_json::json;

/// How long a pairing code can be claimed.
const CODE_LIFETIME: i64 = 600;
/// How long after the code's expiry the owner may still confirm a claimed pairing.
const CONFIRM_GRACE: i64 = 600;
const DEFAULT_DEVICE_LIFETIME: u64 = 90 * 86_400;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPairing {
    pub name: Option<String>,
    /// Commands the device may approve (default: `/`, everything).
    #[serde(default)]
    pub allow: Vec<String>,
    /// Policy statements the device's approvals must satisfy.
    #[schema(value_type = Option<Vec<Object>>)]
    pub policy: Option<Json_>,
    /// Lifetime of the device's standing delegation, in seconds (default 90 days).
    pub expires_in: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PairingCreated {
    pub id: String,
    /// The one-time code to type or scan on the device.
    pub code: String,
    /// Link that opens the approver app on this pairing.
    pub url: String,
    pub expires_at: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    pub code: String,
    /// A name for the device, e.g. "Ana's phone".
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Claimed {
    pub pairing_id: String,
    /// Compare with what the owner's CLI shows.
    pub verification: String,
    /// The owner must confirm before this time, or the pairing lapses.
    pub confirm_by: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PairingView {
    pub id: String,
    /// `open`, `claimed`, `confirmed`, or `expired` (not claimed, or not confirmed, in time).
    pub state: String,
    pub name: Option<String>,
    pub allow: Vec<String>,
    #[schema(value_type = Vec<Object>)]
    pub policy: Json_,
    /// Lifetime of the standing delegation to sign, in seconds.
    pub device_lifetime: u64,
    pub expires_at: i64,
    pub device_did: Option<String>,
    pub device_name: Option<String>,
    pub device_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Confirm {
    /// Owner → device delegations (standard base64), one per allowed command.
    pub delegations: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Confirmed {
    pub device_id: String,
}

#[utoipa::path(post, path = "/v1/pairings", tag = "pairing", request_body = NewPairing,
    security(("owner" = [])), responses((status = 201, body = PairingCreated)))]
pub async fn create(
    State(state): State<AppState>,
    _owner: Owner,
    JsonBody(input): JsonBody<NewPairing>,
) -> Result<(StatusCode, Json<PairingCreated>), ApiError> {
    let name = input.name.as_deref().map(device_name).transpose()?;
    let allow = if input.allow.is_empty() {
        vec![Command::top()]
    } else {
        input
            .allow
            .iter()
            .map(|c| {
                c.parse::<Command>()
                    .map_err(|e| ApiError::invalid(format!("allow: {e}")))
            })
            .collect::<Result<_, _>>()?
    };
    let policy = match &input.policy {
        None => Json_::Array(Vec::new()),
        Some(p) => {
            let v = json::from_json(p).map_err(|e| ApiError::invalid(format!("policy: {e}")))?;
            let parsed = Policy::parse(&v, &PolicyLimits::default())
                .map_err(|e| ApiError::invalid(format!("policy: {e}")))?;
            json::to_json(&parsed.to_value())
        }
    };
    let device_lifetime = input.expires_in.unwrap_or(DEFAULT_DEVICE_LIFETIME);
    if device_lifetime == 0 || device_lifetime > 3 * 365 * 86_400 {
        return Err(ApiError::invalid(
            "expires_in: between 1 second and 3 years",
        ));
    }
    let now = state.now();
    let code = ids::pairing_code();
    let pairing = Pairing {
        id: ids::new_id("pair"),
        code_hash: code_hash(&code),
        name,
        allow,
        policy,
        device_lifetime,
        created_at: now,
        expires_at: now + CODE_LIFETIME,
        state: PairingState::Open,
        device_did: None,
        device_name: None,
        device_id: None,
    };
    state.store.create_pairing(&pairing).await?;
    let url = format!("{}/#/pair?code={code}", state.config.public_url());
    Ok((
        StatusCode::CREATED,
        Json(PairingCreated {
            id: pairing.id,
            code,
            url,
            expires_at: pairing.expires_at,
        }),
    ))
}

#[utoipa::path(post, path = "/v1/pairings/claim", tag = "pairing", request_body = Claim,
    security(("signer" = [])),
    responses((status = 200, body = Claimed), (status = 409, body = crate::error::ErrorBody)))]
pub async fn claim(
    State(state): State<AppState>,
    Signer(device): Signer,
    JsonBody(input): JsonBody<Claim>,
) -> Result<Json<Claimed>, ApiError> {
    let name = device_name(&input.name)?;
    if device == state.owner || device == state.service_did() {
        return Err(ApiError::invalid(
            "the owner's and the service's keys cannot pair as devices",
        ));
    }
    if state.store.agent_by_did(&device).await?.is_some() {
        return Err(ApiError::invalid(
            "that key belongs to an agent; an agent cannot approve",
        ));
    }
    let pairing = state
        .store
        .claim_pairing(&code_hash(&input.code), &device, &name, state.now())
        .await?;
    Ok(Json(Claimed {
        confirm_by: pairing.expires_at + CONFIRM_GRACE,
        pairing_id: pairing.id,
        verification: verification_string(&input.code, &device, &state.service_did()),
    }))
}

#[utoipa::path(get, path = "/v1/pairings/{id}", tag = "pairing", security(("owner" = [])),
    params(("id" = String, Path)), responses((status = 200, body = PairingView)))]
pub async fn get(
    State(state): State<AppState>,
    _owner: Owner,
    Path(id): Path<String>,
) -> Result<Json<PairingView>, ApiError> {
    let p = state
        .store
        .pairing(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("pairing"))?;
    let lapsed = match p.state {
        PairingState::Open => state.now() >= p.expires_at,
        PairingState::Claimed => state.now() >= p.expires_at + CONFIRM_GRACE,
        PairingState::Confirmed => false,
    };
    Ok(Json(PairingView {
        id: p.id,
        state: if lapsed { "expired" } else { p.state.as_str() }.to_owned(),
        name: p.name,
        allow: p.allow.iter().map(ToString::to_string).collect(),
        policy: p.policy,
        device_lifetime: p.device_lifetime,
        expires_at: p.expires_at,
        device_did: p.device_did.map(|d| d.to_string()),
        device_name: p.device_name,
        device_id: p.device_id,
    }))
}

#[utoipa::path(post, path = "/v1/pairings/{id}/confirm", tag = "pairing", request_body = Confirm,
    security(("owner" = [])), params(("id" = String, Path)),
    responses((status = 200, body = Confirmed), (status = 422, body = crate::error::ErrorBody)))]
pub async fn confirm(
    State(state): State<AppState>,
    Owner(owner): Owner,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<Confirm>,
) -> Result<Json<Confirmed>, ApiError> {
    let p = state
        .store
        .pairing(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("pairing"))?;
    let (Some(device_did), PairingState::Claimed) = (p.device_did, p.state) else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "pairing_unavailable",
            "the pairing has not been claimed by a device, or is already confirmed",
        ));
    };
    if state.now() >= p.expires_at + CONFIRM_GRACE {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "pairing_unavailable",
            "the pairing lapsed before it was confirmed; start again with a new code",
        ));
    }
    if input.delegations.is_empty() || input.delegations.len() > 32 {
        return Err(ApiError::invalid("delegations: give 1 to 32"));
    }
    let validator = Validator::new(Limits::default(), 0);
    let now = u64::try_from(state.now()).unwrap_or(0);
    let mut standing = Vec::new();
    for text in &input.delegations {
        let bytes = input::base64_token(text, "delegations")?;
        let cid = Cid::dag_cbor(&bytes);
        let d = validator
            .open_delegation(&TokenRef::Proof(0, cid), &bytes)
            .map_err(|e| ApiError::refused("invalid_delegation", e.to_string()))?;
        let right_parties =
            d.issuer == state.owner && d.audience == device_did && d.subject == Some(state.owner);
        if !right_parties {
            return Err(ApiError::refused(
                "invalid_delegation",
                "a standing delegation must be from the owner to the claiming device, about the owner",
            ));
        }
        if !p.allow.iter().any(|a| a.proves(&d.command)) {
            return Err(ApiError::refused(
                "invalid_delegation",
                format!(
                    "{} is not among the commands this pairing allows",
                    d.command
                ),
            ));
        }
        if d.expiration.is_none_or(|e| e <= now) {
            return Err(ApiError::refused(
                "invalid_delegation",
                "a standing delegation must expire, in the future",
            ));
        }
        standing.push(bytes);
    }
    let device = Device {
        id: ids::new_id("dev"),
        name: p
            .device_name
            .clone()
            .or(p.name.clone())
            .unwrap_or_else(|| "device".into()),
        did: device_did,
        standing,
        created_at: state.now(),
        removed_at: None,
    };
    let now = state.now();
    let tokens: Vec<_> = device
        .standing
        .iter()
        .filter_map(|bytes| {
            let d = validator
                .open_delegation(&TokenRef::Proof(0, Cid::dag_cbor(bytes)), bytes)
                .ok()?;
            Some(crate::actions::token_record(
                "standing",
                bytes,
                &d,
                None,
                None,
                now,
                vec![owner],
            ))
        })
        .collect();
    let event = AuditEvent::new(
        now,
        kind::DEVICE_PAIRED,
        owner,
        &device.id,
        json!({
            "did": device.did.to_string(), "name": device.name,
            "standing": tokens.iter().map(|t| t.cid.clone()).collect::<Vec<_>>(),
        }),
    );
    state.store.confirm_pairing(&id, &device, &[event]).await?;
    state.store.add_tokens(&tokens).await?;
    state.announce(false);
    Ok(Json(Confirmed {
        device_id: device.id,
    }))
}

fn device_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > 64
        || name
            .chars()
            .any(|c| c.is_control() || crate::approval::is_bidi_control(c))
    {
        return Err(ApiError::invalid("name: 1 to 64 characters, one line"));
    }
    Ok(name.to_owned())
}
