//! Deterministic sample tokens: the owner → device → service → agent chain of a
//! human-approved refund and the agent's invocation at a gateway, built from fixed seeds
//! and a fixed clock. They back the committed test vectors and the benchmarks.

use crate::command::Command;
use crate::delegation::{Delegation, DelegationBuilder};
use crate::invocation::{Invocation, InvocationBuilder};
use crate::json;
use crate::keys::Keypair;
use crate::policy::{Policy, PolicyLimits};
use crate::token::{NONCE_LEN, Signed};
use crate::value::{Map, Value};

/// The moment the sample chain is issued at (2026-01-01T00:00:00Z).
pub const ISSUED_AT: u64 = 1_767_225_600;

/// The principals and tokens of the sample chain.
#[derive(Debug)]
pub struct SampleChain {
    pub owner: Keypair,
    pub device: Keypair,
    pub service: Keypair,
    pub agent: Keypair,
    pub gateway: Keypair,
    /// owner → device, device → service, service → agent (root first).
    pub delegations: Vec<Signed<Delegation>>,
    /// The agent's invocation, addressed to the gateway.
    pub invocation: Signed<Invocation>,
}

/// A nonce source that counts up from a seed: the same seed gives the same tokens.
#[derive(Debug)]
pub struct CountingNonces(u64);

impl CountingNonces {
    pub fn new(seed: u64) -> Self {
        CountingNonces(seed)
    }

    pub fn next_nonce(&mut self) -> [u8; NONCE_LEN] {
        self.0 += 1;
        let mut nonce = [0u8; NONCE_LEN];
        nonce[..8].copy_from_slice(&self.0.to_be_bytes());
        nonce
    }
}

impl crate::token::NonceSource for CountingNonces {
    fn nonce(&mut self) -> [u8; NONCE_LEN] {
        self.next_nonce()
    }
}

fn key(n: u8) -> Keypair {
    Keypair::from_seed(&[n; 32])
}

fn cmd(text: &str) -> Option<Command> {
    text.parse().ok()
}

fn policy(text: &str) -> Option<Policy> {
    Policy::parse(&json::parse(text).ok()?, &PolicyLimits::default()).ok()
}

/// The arguments of the sample refund.
pub fn refund_args(amount: i64) -> Map {
    [
        ("charge", Value::from("ch_3MmlLrLkdIwHu7ix0snN0B15")),
        ("amount", Value::from(amount)),
        ("currency", Value::from("usd")),
    ]
    .into_iter()
    .collect()
}

impl SampleChain {
    /// Builds the chain. Returns `None` only if the built-in commands or policies failed
    /// to parse, which the tests rule out.
    pub fn build() -> Option<SampleChain> {
        let (owner, device, service, agent, gateway) = (key(1), key(2), key(3), key(4), key(5));
        let mut nonces = CountingNonces::new(0);
        let sub = Some(owner.did());
        let standing = DelegationBuilder::new(device.did(), sub, cmd("/payment")?)
            .policy(policy(r#"[["<=", ".amount", 100000]]"#)?)
            .expiration(Some(ISSUED_AT + 90 * 86_400))
            .sign(&owner, &mut nonces);
        let exact = r#"[["==", ".charge", "ch_3MmlLrLkdIwHu7ix0snN0B15"],
                        ["<=", ".amount", 4900], ["==", ".currency", "usd"]]"#;
        let approval = DelegationBuilder::new(service.did(), sub, cmd("/payment/refund")?)
            .policy(policy(exact)?)
            .expiration(Some(ISSUED_AT + 600))
            .sign(&device, &mut nonces);
        let issued = DelegationBuilder::new(agent.did(), sub, cmd("/payment/refund")?)
            .policy(policy(exact)?)
            .expiration(Some(ISSUED_AT + 300))
            .sign(&service, &mut nonces);
        let delegations = vec![standing, approval, issued];
        let invocation = invoke(
            &agent,
            &gateway,
            &delegations,
            refund_args(4900),
            &mut nonces,
        )?;
        Some(SampleChain {
            owner,
            device,
            service,
            agent,
            gateway,
            delegations,
            invocation,
        })
    }

    /// Another invocation by the agent over the same proofs.
    pub fn invoke(&self, args: Map, nonces: &mut CountingNonces) -> Option<Signed<Invocation>> {
        invoke(&self.agent, &self.gateway, &self.delegations, args, nonces)
    }

    /// The proofs' envelope bytes, root first.
    pub fn proof_bytes(&self) -> Vec<Vec<u8>> {
        self.delegations.iter().map(|d| d.bytes.clone()).collect()
    }
}

fn invoke(
    agent: &Keypair,
    gateway: &Keypair,
    delegations: &[Signed<Delegation>],
    args: Map,
    nonces: &mut CountingNonces,
) -> Option<Signed<Invocation>> {
    let subject = delegations.first()?.token.subject?;
    Some(
        InvocationBuilder::new(subject, cmd("/payment/refund")?, args)
            .audience(gateway.did())
            .proofs(delegations.iter().map(|d| d.cid.clone()).collect())
            .expiration(Some(ISSUED_AT + 60))
            .issued_at(ISSUED_AT)
            .sign(agent, nonces),
    )
}
