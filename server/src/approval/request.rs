//! A new request from an agent: strict input, checked against what the agent may ask.

use countersign_core::policy::{Policy, PolicyLimits, Selector, Statement};
use countersign_core::{Command, Did, Value, json};
use serde::Deserialize;
use serde_json::Value as Json;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::store::{Agent, Request, RequestState, Timestamp};

/// What an agent asks for.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRequest {
    /// The command, e.g. `/payment/refund`.
    pub cmd: String,
    /// Whose authority is asked for; only the service's owner is accepted (the default).
    #[serde(default)]
    pub subject: Option<String>,
    /// The exact arguments the agent will invoke with (a JSON object, DAG-JSON for bytes
    /// and links). The capability then binds each field with `==`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub args: Option<Json>,
    /// Extra policy statements, or — without `args` — the range of calls asked for.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub policy: Option<Json>,
    /// One line for the approver's notification.
    pub summary: String,
    /// Why the agent wants to do this.
    #[serde(default)]
    pub reason: String,
    /// The side effects, shown to the approver.
    #[serde(default)]
    pub diff: Option<Diff>,
    /// Requested lifetime of the capability, in seconds.
    #[serde(default)]
    pub lifetime: Option<u64>,
    /// How long the request may wait for a decision, in seconds.
    #[serde(default)]
    pub expires_in: Option<u64>,
}

/// The side effects of a request, for a person to read.
#[derive(Debug, Clone, Deserialize, serde::Serialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Diff {
    /// Changed fields, each as before → after.
    #[serde(default)]
    pub fields: Vec<FieldChange>,
    /// A unified text diff.
    #[serde(default)]
    pub text: Option<String>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FieldChange {
    pub path: String,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub before: Option<Json>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub after: Option<Json>,
}

/// Bounds from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct RequestRules {
    pub default_expiry: u64,
    pub max_expiry: u64,
    pub default_lifetime: u64,
    pub max_lifetime: u64,
}

const MAX_SUMMARY: usize = 200;
const MAX_REASON: usize = 2000;
const MAX_DIFF_TEXT: usize = 64 * 1024;
const MAX_DIFF_FIELDS: usize = 100;
const MAX_PATH: usize = 200;

/// Checks a new request and turns it into the record to store.
pub fn prepare_request(
    input: NewRequest,
    agent: &Agent,
    owner: &Did,
    rules: RequestRules,
    now: Timestamp,
    id: String,
    code: String,
) -> Result<Request, ApiError> {
    let command: Command =
        input
            .cmd
            .parse()
            .map_err(|e: countersign_core::command::CommandError| {
                ApiError::invalid(format!("cmd: {e}"))
            })?;
    if !agent.allow.iter().any(|prefix| prefix.proves(&command)) {
        return Err(ApiError::forbidden(format!(
            "agent {} may not request {command}",
            agent.name
        )));
    }
    let subject = match &input.subject {
        None => *owner,
        Some(s) => s.parse().map_err(|e: countersign_core::did::DidError| {
            ApiError::invalid(format!("subject: {e}"))
        })?,
    };
    if subject != *owner {
        return Err(ApiError::forbidden(format!(
            "this service acts only for its owner {owner}, not for {subject}"
        )));
    }
    let summary = one_line("summary", &input.summary, MAX_SUMMARY)?;
    let reason = text("reason", &input.reason, MAX_REASON)?;
    let (args, policy) = policy_for(input.args.as_ref(), input.policy.as_ref())?;
    let diff = input.diff.map(check_diff).transpose()?;
    let lifetime = bounded(
        "lifetime",
        input.lifetime,
        rules.default_lifetime,
        rules.max_lifetime,
    )?;
    let expiry = bounded(
        "expires_in",
        input.expires_in,
        rules.default_expiry,
        rules.max_expiry,
    )?;
    Ok(Request {
        id,
        agent_name: agent.name.clone(),
        agent_did: agent.did,
        command,
        subject,
        args,
        policy,
        summary,
        reason,
        diff: diff.map(|d| serde_json::to_value(d).unwrap_or(Json::Null)),
        lifetime,
        code,
        created_at: now,
        expires_at: now.saturating_add(i64::try_from(expiry).unwrap_or(i64::MAX)),
        state: RequestState::Pending,
        decided_at: None,
        decided_by: None,
        denial_reason: None,
        evidence: None,
        chain: Vec::new(),
    })
}

/// The stored args and the policy (as JSON) a request's capability will carry.
fn policy_for(args: Option<&Json>, extra: Option<&Json>) -> Result<(Option<Json>, Json), ApiError> {
    let limits = PolicyLimits::default();
    let extra = match extra {
        None => Vec::new(),
        Some(p) => {
            let value =
                json::from_json(p).map_err(|e| ApiError::invalid(format!("policy: {e}")))?;
            let policy = Policy::parse(&value, &limits)
                .map_err(|e| ApiError::invalid(format!("policy: {e}")))?;
            policy.statements().to_vec()
        }
    };
    let Some(args) = args else {
        if extra.is_empty() {
            return Err(ApiError::invalid(
                "give the exact args, or a policy describing the calls you will make",
            ));
        }
        return Ok((None, json::to_json(&Policy::new(extra).to_value())));
    };
    let value = json::from_json(args).map_err(|e| ApiError::invalid(format!("args: {e}")))?;
    let Value::Map(map) = &value else {
        return Err(ApiError::invalid("args must be a JSON object"));
    };
    let mut statements = exact_policy(map).statements().to_vec();
    statements.extend(extra);
    let policy = Policy::new(statements);
    // The request's own args must satisfy its policy, or no invocation ever could.
    policy
        .matches(&value, &limits)
        .map_err(|e| ApiError::invalid(format!("policy: the args do not satisfy it: {e}")))?;
    Ok((
        Some(json::to_json(&value)),
        json::to_json(&policy.to_value()),
    ))
}

/// `==` on each top-level field of the args.
pub fn exact_policy(args: &countersign_core::Map) -> Policy {
    let statements = args
        .iter()
        .filter_map(|(key, value)| {
            let selector = if is_identifier(key) {
                format!(".{key}")
            } else {
                format!(".[{}]", serde_json::to_string(key).ok()?)
            };
            let selector: Selector = selector.parse().ok()?;
            Some(Statement::Equal(selector, value.clone()))
        })
        .collect();
    Policy::new(statements)
}

fn is_identifier(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn bounded(field: &str, value: Option<u64>, default: u64, max: u64) -> Result<u64, ApiError> {
    match value {
        None => Ok(default.min(max)),
        Some(0) => Err(ApiError::invalid(format!("{field} must be positive"))),
        Some(v) if v > max => Err(ApiError::invalid(format!(
            "{field} may be at most {max} seconds"
        ))),
        Some(v) => Ok(v),
    }
}

/// Bidirectional formatting characters: shown to the approver, they reorder what the
/// person reads ("refund 10\u{202e}0001" displays as "refund 101000").
pub(crate) fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// A single line of text: no control characters at all.
fn one_line(field: &str, s: &str, max: usize) -> Result<String, ApiError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(ApiError::invalid(format!("{field} is required")));
    }
    if s.chars().any(|c| c.is_control() || is_bidi_control(c)) {
        return Err(ApiError::invalid(format!(
            "{field} must be one line without control characters"
        )));
    }
    if s.chars().count() > max {
        return Err(ApiError::invalid(format!(
            "{field} may be at most {max} characters"
        )));
    }
    Ok(s.to_owned())
}

/// Free text: newlines and tabs allowed, other control characters not.
fn text(field: &str, s: &str, max: usize) -> Result<String, ApiError> {
    if s.chars()
        .any(|c| (c.is_control() && c != '\n' && c != '\t') || is_bidi_control(c))
    {
        return Err(ApiError::invalid(format!(
            "{field} contains control characters"
        )));
    }
    if s.len() > max {
        return Err(ApiError::invalid(format!(
            "{field} may be at most {max} bytes"
        )));
    }
    Ok(s.trim().to_owned())
}

fn check_diff(diff: Diff) -> Result<Diff, ApiError> {
    if diff.fields.len() > MAX_DIFF_FIELDS {
        return Err(ApiError::invalid(format!(
            "diff: at most {MAX_DIFF_FIELDS} fields"
        )));
    }
    for f in &diff.fields {
        one_line("diff field path", &f.path, MAX_PATH)?;
    }
    if let Some(t) = &diff.text {
        text("diff text", t, MAX_DIFF_TEXT)?;
    }
    Ok(diff)
}
