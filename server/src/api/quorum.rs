//! `/v1/quorum-rules`: commands (optionally only when a policy matches the args) that need
//! approvals from k distinct devices before the service issues.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use countersign_core::policy::{Policy, PolicyLimits};
use countersign_core::{Command, json as dag_json};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json_, json};
use utoipa::ToSchema;

use crate::audit::kind;
use crate::auth::Owner;
use crate::error::ApiError;
use crate::ids;
use crate::input::JsonBody;
use crate::state::AppState;
use crate::store::{AuditEvent, QuorumRule, StoreError};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewQuorumRule {
    /// A command prefix, e.g. `/payment`.
    pub cmd: String,
    /// Policy statements; the rule applies only when they hold for the args (default: always).
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub when: Option<Json_>,
    /// Distinct devices that must approve (2 to 10).
    pub approvals: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuorumRuleView {
    pub id: String,
    pub cmd: String,
    #[schema(value_type = Vec<Object>)]
    pub when: Json_,
    pub approvals: u32,
    pub created_at: i64,
}

fn view(r: &QuorumRule) -> QuorumRuleView {
    QuorumRuleView {
        id: r.id.clone(),
        cmd: r.command.clone(),
        when: r.when.clone(),
        approvals: r.approvals,
        created_at: r.created_at,
    }
}

#[utoipa::path(post, path = "/v1/quorum-rules", tag = "quorum", request_body = NewQuorumRule,
    security(("owner" = [])), responses((status = 201, body = QuorumRuleView), (status = 400, body = crate::error::ErrorBody)))]
pub async fn add(
    State(state): State<AppState>,
    Owner(owner): Owner,
    JsonBody(body): JsonBody<NewQuorumRule>,
) -> Result<(StatusCode, Json<QuorumRuleView>), ApiError> {
    let cmd: Command = body
        .cmd
        .parse()
        .map_err(|e| ApiError::invalid(format!("cmd: {e}")))?;
    if !(2..=10).contains(&body.approvals) {
        return Err(ApiError::invalid("approvals: between 2 and 10"));
    }
    let when = match &body.when {
        None => Json_::Array(Vec::new()),
        Some(w) => {
            let v = dag_json::from_json(w).map_err(|e| ApiError::invalid(format!("when: {e}")))?;
            let p = Policy::parse(&v, &PolicyLimits::default())
                .map_err(|e| ApiError::invalid(format!("when: {e}")))?;
            dag_json::to_json(&p.to_value())
        }
    };
    let rule = QuorumRule {
        id: ids::new_id("quorum"),
        command: cmd.to_string(),
        when,
        approvals: body.approvals,
        created_at: state.now(),
    };
    let event = AuditEvent::new(
        rule.created_at,
        kind::QUORUM_ADDED,
        owner,
        &rule.id,
        json!({
            "cmd": rule.command, "when": rule.when, "approvals": rule.approvals,
        }),
    );
    state.store.add_quorum_rule(&rule, &[event]).await?;
    state.announce(false);
    Ok((StatusCode::CREATED, Json(view(&rule))))
}

#[utoipa::path(get, path = "/v1/quorum-rules", tag = "quorum", security(("owner" = [])),
    responses((status = 200, body = Vec<QuorumRuleView>)))]
pub async fn list(
    State(state): State<AppState>,
    _owner: Owner,
) -> Result<Json<Vec<QuorumRuleView>>, ApiError> {
    Ok(Json(
        state.store.quorum_rules().await?.iter().map(view).collect(),
    ))
}

#[utoipa::path(delete, path = "/v1/quorum-rules/{id}", tag = "quorum", security(("owner" = [])),
    params(("id" = String, Path)), responses((status = 204), (status = 404, body = crate::error::ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    Owner(owner): Owner,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let event = AuditEvent::new(state.now(), kind::QUORUM_REMOVED, owner, &id, json!({}));
    state
        .store
        .remove_quorum_rule(&id, &[event])
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::not_found("quorum rule"),
            other => other.into(),
        })?;
    state.announce(false);
    Ok(StatusCode::NO_CONTENT)
}
