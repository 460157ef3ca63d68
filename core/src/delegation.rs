//! UCAN delegations: parse, build, sign.

use crate::command::Command;
use crate::did::Did;
use crate::envelope::{self, TokenKind};
use crate::fields::{self, FieldError};
use crate::keys::Keypair;
use crate::policy::{Policy, PolicyError, PolicyLimits};
use crate::token::{NonceSource, Signed};
use crate::value::{Map, Value};

const FIELDS: &[&str] = &[
    "iss", "aud", "sub", "cmd", "pol", "nonce", "meta", "nbf", "exp",
];

/// A delegation of authority over `subject` (or, for a powerline, over any subject the
/// issuer holds authority for) from `issuer` to `audience`, limited to `command` and `policy`.
#[derive(Clone, Debug)]
pub struct Delegation {
    pub issuer: Did,
    pub audience: Did,
    /// `None` is a powerline delegation (`sub: null`).
    pub subject: Option<Did>,
    pub command: Command,
    pub policy: Policy,
    pub nonce: Vec<u8>,
    pub meta: Option<Map>,
    pub not_before: Option<u64>,
    /// `None` never expires (`exp: null`).
    pub expiration: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DelegationError {
    #[error(transparent)]
    Field(#[from] FieldError),
    #[error("field \"pol\": {0}")]
    Policy(#[from] PolicyError),
}

impl Delegation {
    /// Reads a delegation payload strictly: every required field, no unknown ones.
    pub fn from_payload(
        mut map: Map,
        limits: &PolicyLimits,
    ) -> Result<Delegation, DelegationError> {
        fields::deny_unknown(&map, FIELDS)?;
        let m = &mut map;
        let pol = m.get("pol").ok_or_else(|| FieldError {
            field: "pol".into(),
            reason: "is required".into(),
        })?;
        Ok(Delegation {
            policy: Policy::parse(pol, limits)?,
            issuer: fields::did(m, "iss")?,
            audience: fields::did(m, "aud")?,
            subject: fields::nullable_did(m, "sub")?,
            command: fields::command(m, "cmd")?,
            not_before: fields::optional_time(m, "nbf")?,
            expiration: fields::nullable_time(m, "exp")?,
            nonce: fields::take_bytes(m, "nonce")?,
            meta: fields::take_optional_map(m, "meta")?,
        })
    }

    pub fn to_payload(&self) -> Map {
        let mut map = Map::new();
        map.insert("iss", Value::from(self.issuer.to_string()));
        map.insert("aud", Value::from(self.audience.to_string()));
        map.insert(
            "sub",
            self.subject
                .map_or(Value::Null, |s| Value::from(s.to_string())),
        );
        map.insert("cmd", Value::from(self.command.as_str()));
        map.insert("pol", self.policy.to_value());
        map.insert("nonce", Value::Bytes(self.nonce.clone()));
        if let Some(meta) = &self.meta {
            map.insert("meta", Value::Map(meta.clone()));
        }
        if let Some(nbf) = self.not_before {
            map.insert("nbf", Value::from(nbf));
        }
        map.insert("exp", fields::time_value(self.expiration));
        map
    }

    /// Whether the delegation is a powerline (`sub: null`).
    pub fn is_powerline(&self) -> bool {
        self.subject.is_none()
    }
}

/// Builds and signs a delegation. Time and nonces come from the caller.
#[derive(Clone, Debug)]
pub struct DelegationBuilder {
    audience: Did,
    subject: Option<Did>,
    command: Command,
    policy: Policy,
    meta: Option<Map>,
    not_before: Option<u64>,
    expiration: Option<u64>,
}

impl DelegationBuilder {
    /// A delegation to `audience` of `command` over `subject` (`None`: powerline).
    /// It never expires unless [`expiration`](Self::expiration) is set.
    pub fn new(audience: Did, subject: Option<Did>, command: Command) -> Self {
        DelegationBuilder {
            audience,
            subject,
            command,
            policy: Policy::default(),
            meta: None,
            not_before: None,
            expiration: None,
        }
    }

    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    pub fn meta(mut self, meta: Map) -> Self {
        self.meta = Some(meta);
        self
    }

    pub fn not_before(mut self, nbf: u64) -> Self {
        self.not_before = Some(nbf);
        self
    }

    /// Sets the expiry as a Unix time; `None` never expires.
    pub fn expiration(mut self, exp: Option<u64>) -> Self {
        self.expiration = exp;
        self
    }

    pub fn sign(self, issuer: &Keypair, nonces: &mut impl NonceSource) -> Signed<Delegation> {
        let delegation = Delegation {
            issuer: issuer.did(),
            audience: self.audience,
            subject: self.subject,
            command: self.command,
            policy: self.policy,
            nonce: nonces.nonce().to_vec(),
            meta: self.meta,
            not_before: self.not_before,
            expiration: self.expiration,
        };
        let bytes = envelope::seal(TokenKind::Delegation, delegation.to_payload(), issuer);
        Signed::new(delegation, bytes)
    }
}
