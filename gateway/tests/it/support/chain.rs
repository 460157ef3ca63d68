//! Chains built from fixed keys at a fixed moment: owner → device → service → agent, and
//! the agent's invocation at the gateway, packed in a container.

use std::sync::atomic::{AtomicU64, Ordering};

use countersign_core::container::Container;
use countersign_core::delegation::Delegation;
use countersign_core::invocation::Invocation;
use countersign_core::policy::{Policy, PolicyLimits};
use countersign_core::sample::ISSUED_AT;
use countersign_core::token::NONCE_LEN;
use countersign_core::{
    Command, DelegationBuilder, Did, InvocationBuilder, Keypair, Map, Signed, Value, json,
};

/// The moment every test runs at.
pub const NOW: u64 = ISSUED_AT;

/// The principals, from fixed seeds (the same as `countersign_core::sample`).
#[derive(Debug)]
pub struct Keys {
    pub owner: Keypair,
    pub device: Keypair,
    pub service: Keypair,
    pub agent: Keypair,
    pub gateway: Keypair,
    pub device2: Keypair,
    pub device3: Keypair,
    pub stranger: Keypair,
}

pub fn keys() -> Keys {
    let k = |n: u8| Keypair::from_seed(&[n; 32]);
    Keys {
        owner: k(1),
        device: k(2),
        service: k(3),
        agent: k(4),
        gateway: k(5),
        device2: k(6),
        device3: k(7),
        stranger: k(8),
    }
}

/// Nonces that never repeat within the test binary.
fn nonce() -> [u8; NONCE_LEN] {
    static N: AtomicU64 = AtomicU64::new(1);
    let mut nonce = [0u8; NONCE_LEN];
    nonce[..8].copy_from_slice(&N.fetch_add(1, Ordering::SeqCst).to_be_bytes());
    nonce
}

pub fn cmd(text: &str) -> Command {
    text.parse().unwrap()
}

pub fn policy(text: &str) -> Policy {
    Policy::parse(&json::parse(text).unwrap(), &PolicyLimits::default()).unwrap()
}

pub fn args(text: &str) -> Map {
    match json::parse(text).unwrap() {
        Value::Map(m) => m,
        other => panic!("args must be a map, not {other:?}"),
    }
}

/// A delegation, with every option a test varies.
#[derive(Debug)]
pub struct Link<'a> {
    pub from: &'a Keypair,
    pub to: Did,
    pub subject: Did,
    pub command: &'a str,
    pub policy: &'a str,
    pub not_before: Option<u64>,
    pub expiration: Option<u64>,
    pub meta: Option<Map>,
}

impl<'a> Link<'a> {
    pub fn new(
        from: &'a Keypair,
        to: Did,
        subject: Did,
        command: &'a str,
        policy: &'a str,
    ) -> Self {
        Link {
            from,
            to,
            subject,
            command,
            policy,
            not_before: None,
            expiration: Some(NOW + 600),
            meta: None,
        }
    }

    pub fn sign(self) -> Signed<Delegation> {
        let mut builder = DelegationBuilder::new(self.to, Some(self.subject), cmd(self.command))
            .policy(policy(self.policy))
            .expiration(self.expiration);
        if let Some(nbf) = self.not_before {
            builder = builder.not_before(nbf);
        }
        if let Some(meta) = self.meta {
            builder = builder.meta(meta);
        }
        builder.sign(self.from, &mut nonce)
    }
}

/// The human-approved chain for `command` with `policy`: owner → device (standing, any
/// command), device → service (the approval), service → agent (issued, with `meta`).
pub fn approved(
    keys: &Keys,
    command: &str,
    policy: &str,
    meta: Option<Map>,
) -> Vec<Signed<Delegation>> {
    let owner = keys.owner.did();
    let standing = Link::new(&keys.owner, keys.device.did(), owner, "/", "[]").sign();
    let approval = Link::new(&keys.device, keys.service.did(), owner, command, policy).sign();
    let mut issued = Link::new(&keys.service, keys.agent.did(), owner, command, policy);
    issued.meta = meta;
    vec![standing, approval, issued.sign()]
}

/// An invocation, with every option a test varies.
#[derive(Debug)]
pub struct Call<'a> {
    pub by: &'a Keypair,
    pub to: Did,
    pub subject: Did,
    pub command: &'a str,
    pub args: Map,
    pub expiration: Option<u64>,
    pub issued_at: Option<u64>,
}

impl<'a> Call<'a> {
    /// The agent invokes `command` at the gateway, expiring in a minute.
    pub fn new(keys: &'a Keys, command: &'a str, args: Map) -> Self {
        Call {
            by: &keys.agent,
            to: keys.gateway.did(),
            subject: keys.owner.did(),
            command,
            args,
            expiration: Some(NOW + 60),
            issued_at: Some(NOW),
        }
    }

    pub fn sign(self, proofs: &[Signed<Delegation>]) -> Signed<Invocation> {
        let mut builder = InvocationBuilder::new(self.subject, cmd(self.command), self.args)
            .audience(self.to)
            .proofs(proofs.iter().map(|d| d.cid.clone()).collect())
            .expiration(self.expiration);
        if let Some(iat) = self.issued_at {
            builder = builder.issued_at(iat);
        }
        builder.sign(self.by, &mut nonce)
    }
}

/// The container text of an invocation and its proofs.
pub fn container(invocation: &Signed<Invocation>, proofs: &[Signed<Delegation>]) -> String {
    let mut tokens = vec![invocation.bytes.clone()];
    tokens.extend(proofs.iter().map(|d| d.bytes.clone()));
    Container::new(tokens).to_text()
}
