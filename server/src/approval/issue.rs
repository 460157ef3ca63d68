//! The capability the service issues once an approval is accepted.

use countersign_core::container::Container;
use countersign_core::{
    Delegation, DelegationBuilder, Did, Keypair, Map, NonceSource, Signed, Value,
};

use super::check::CheckedApproval;

/// The `meta` key under which an issued token carries the other approvers' chains when a
/// quorum was required: a list of `[standing, approval]` envelope byte pairs.
pub const CO_APPROVALS: &str = "countersign/co-approvals";

/// Signs service → agent with the approval's command and policy, expiring no later than
/// the approval, and returns it with the chain the agent receives (root first).
/// `co_approvals` are the other approvers' `(standing, approval)` pairs, carried in `meta`.
pub fn issue_for_agent(
    service: &Keypair,
    agent: Did,
    approval: &CheckedApproval,
    approval_bytes: &[u8],
    co_approvals: &[(Vec<u8>, Vec<u8>)],
    nonces: &mut impl NonceSource,
) -> (Signed<Delegation>, Vec<Vec<u8>>) {
    let d = &approval.delegation;
    let mut builder = DelegationBuilder::new(agent, d.subject, d.command.clone())
        .policy(d.policy.clone())
        .expiration(Some(approval.expires_at));
    if !co_approvals.is_empty() {
        let pairs = co_approvals
            .iter()
            .map(|(s, a)| Value::List(vec![Value::Bytes(s.clone()), Value::Bytes(a.clone())]))
            .collect();
        let meta: Map = [(CO_APPROVALS, Value::List(pairs))].into_iter().collect();
        builder = builder.meta(meta);
    }
    let issued = builder.sign(service, nonces);
    let chain = vec![
        approval.standing.clone(),
        approval_bytes.to_vec(),
        issued.bytes.clone(),
    ];
    (issued, chain)
}

/// The text container an agent receives: its chain, ready to pass to `countersign invoke`.
pub fn chain_container(chain: &[Vec<u8>]) -> String {
    Container::new(chain.iter().cloned()).to_text()
}
