//! UCAN invocations: parse, build, sign.

use crate::cid::Cid;
use crate::command::Command;
use crate::did::Did;
use crate::envelope::{self, TokenKind};
use crate::fields::{self, FieldError};
use crate::keys::Keypair;
use crate::token::{NonceSource, Signed};
use crate::value::{Map, Value};

const FIELDS: &[&str] = &[
    "iss", "sub", "aud", "cmd", "args", "prf", "meta", "nonce", "exp", "iat", "cause",
];

/// A request by `issuer` that the executor run `command` with `args` on `subject`,
/// with the delegations in `proofs` (root first) as its authority.
#[derive(Clone, Debug)]
pub struct Invocation {
    pub issuer: Did,
    pub subject: Did,
    /// The executor, when it is not the subject itself.
    pub audience: Option<Did>,
    pub command: Command,
    pub args: Map,
    pub proofs: Vec<Cid>,
    pub meta: Option<Map>,
    pub nonce: Vec<u8>,
    /// `None` never expires (`exp: null`).
    pub expiration: Option<u64>,
    pub issued_at: Option<u64>,
    pub cause: Option<Cid>,
}

impl Invocation {
    /// Reads an invocation payload strictly: every required field, no unknown ones.
    pub fn from_payload(mut map: Map) -> Result<Invocation, FieldError> {
        fields::deny_unknown(&map, FIELDS)?;
        let m = &mut map;
        Ok(Invocation {
            issuer: fields::did(m, "iss")?,
            subject: fields::did(m, "sub")?,
            audience: fields::optional_did(m, "aud")?,
            command: fields::command(m, "cmd")?,
            proofs: fields::links(m, "prf")?,
            expiration: fields::nullable_time(m, "exp")?,
            issued_at: fields::optional_time(m, "iat")?,
            cause: fields::optional_link(m, "cause")?,
            args: fields::take_map(m, "args")?,
            meta: fields::take_optional_map(m, "meta")?,
            nonce: fields::take_bytes(m, "nonce")?,
        })
    }

    pub fn to_payload(&self) -> Map {
        let mut map = Map::new();
        map.insert("iss", Value::from(self.issuer.to_string()));
        map.insert("sub", Value::from(self.subject.to_string()));
        if let Some(aud) = self.audience {
            map.insert("aud", Value::from(aud.to_string()));
        }
        map.insert("cmd", Value::from(self.command.as_str()));
        map.insert("args", Value::Map(self.args.clone()));
        map.insert(
            "prf",
            Value::List(self.proofs.iter().cloned().map(Value::Link).collect()),
        );
        if let Some(meta) = &self.meta {
            map.insert("meta", Value::Map(meta.clone()));
        }
        map.insert("nonce", Value::Bytes(self.nonce.clone()));
        map.insert("exp", fields::time_value(self.expiration));
        if let Some(iat) = self.issued_at {
            map.insert("iat", Value::from(iat));
        }
        if let Some(cause) = &self.cause {
            map.insert("cause", Value::Link(cause.clone()));
        }
        map
    }

    /// The principal expected to execute this invocation: `aud`, or else the subject.
    pub fn executor(&self) -> Did {
        self.audience.unwrap_or(self.subject)
    }
}

/// Builds and signs an invocation. Time and nonces come from the caller.
#[derive(Clone, Debug)]
pub struct InvocationBuilder {
    subject: Did,
    audience: Option<Did>,
    command: Command,
    args: Map,
    proofs: Vec<Cid>,
    meta: Option<Map>,
    expiration: Option<u64>,
    issued_at: Option<u64>,
    cause: Option<Cid>,
}

impl InvocationBuilder {
    /// An invocation of `command` on `subject` with `args`; it carries no expiry
    /// unless [`expiration`](Self::expiration) is set.
    pub fn new(subject: Did, command: Command, args: Map) -> Self {
        InvocationBuilder {
            subject,
            audience: None,
            command,
            args,
            proofs: Vec::new(),
            meta: None,
            expiration: None,
            issued_at: None,
            cause: None,
        }
    }

    pub fn audience(mut self, executor: Did) -> Self {
        self.audience = Some(executor);
        self
    }

    /// The proof chain, root first.
    pub fn proofs(mut self, proofs: Vec<Cid>) -> Self {
        self.proofs = proofs;
        self
    }

    pub fn meta(mut self, meta: Map) -> Self {
        self.meta = Some(meta);
        self
    }

    pub fn expiration(mut self, exp: Option<u64>) -> Self {
        self.expiration = exp;
        self
    }

    pub fn issued_at(mut self, iat: u64) -> Self {
        self.issued_at = Some(iat);
        self
    }

    pub fn cause(mut self, cause: Cid) -> Self {
        self.cause = Some(cause);
        self
    }

    pub fn sign(self, issuer: &Keypair, nonces: &mut impl NonceSource) -> Signed<Invocation> {
        let invocation = Invocation {
            issuer: issuer.did(),
            subject: self.subject,
            audience: self.audience,
            command: self.command,
            args: self.args,
            proofs: self.proofs,
            meta: self.meta,
            nonce: nonces.nonce().to_vec(),
            expiration: self.expiration,
            issued_at: self.issued_at,
            cause: self.cause,
        };
        let bytes = envelope::seal(TokenKind::Invocation, invocation.to_payload(), issuer);
        Signed::new(invocation, bytes)
    }
}
